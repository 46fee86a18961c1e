"""`workbench model` as a script uses it: register, alias, ls, show, diff and rm on a real
sweep's models, with --json output and one-line errors (exit 1, nothing on stdout)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.artifacts import ArtifactStore
from storage.handle import Workspace
from tests.registry_helpers import build_template, copy_workspace, kept_run_ids
from workbench.cli import main


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("cli-models"))


@pytest.fixture
def ws(template: Path, tmp_path: Path) -> Iterator[Workspace]:
    workspace = copy_workspace(template, tmp_path / "ws")
    yield workspace
    workspace.close()


def cli(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws.root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def ok_json(capsys: pytest.CaptureFixture[str], ws: Workspace, *args: str) -> object:
    code, out, err = cli(capsys, ws, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_register_alias_ls_and_show_as_json(capsys: pytest.CaptureFixture[str], ws: Workspace):
    r1, r2, _ = kept_run_ids(ws)
    first = ok_json(capsys, ws, "model", "register", str(r1), "--name", "wine-rf",
                    "--alias", "production", "--description", "baseline")  # fmt: skip
    assert isinstance(first, dict)
    assert (first["ref"], first["version"], first["run_id"]) == ("wine-rf:1", 1, r1)
    assert first["aliases"] == ["production"] and first["description"] == "baseline"
    assert first["lineage"]["dataset_version"] == "wine@D0"
    assert len(first["bundle_sha256"]) == 64 and first["input_schema"]["columns"]
    code, out, err = cli(capsys, ws, "model", "register", str(r2), "--name", "wine-rf")
    assert code == 0 and out.startswith("registered wine-rf:2: run 2 on wine@D0, accuracy "), err

    move = ok_json(capsys, ws, "model", "alias", "wine-rf", "2", "production")
    assert move == {"model_name": "wine-rf", "alias": "production", "previous": 1, "version": 2,
                    "changed": True}  # fmt: skip
    code, out, _ = cli(capsys, ws, "model", "alias", "wine-rf", "2", "production")
    assert out.strip() == "wine-rf@production already points at wine-rf:2"
    code, out, _ = cli(capsys, ws, "model", "alias", "wine-rf", "1", "staging")
    assert out.strip() == "wine-rf@staging -> wine-rf:1"

    models = ok_json(capsys, ws, "model", "ls")
    assert isinstance(models, list)
    assert [(m["name"], m["version_count"], m["latest_version"], m["aliases"]) for m in models] == [
        ("wine-rf", 2, 2, {"production": 2, "staging": 1})
    ]
    shown = ok_json(capsys, ws, "model", "show", "wine-rf@production")
    assert isinstance(shown, dict) and (shown["ref"], shown["run_id"]) == ("wine-rf:2", r2)
    whole = ok_json(capsys, ws, "model", "show", "wine-rf")
    assert isinstance(whole, dict) and [v["ref"] for v in whole["versions"]] == [
        "wine-rf:1",
        "wine-rf:2",
    ]
    code, out, _ = cli(capsys, ws, "model", "show", "wine-rf:1")
    assert code == 0 and "lineage: run 1 (trial 0) of sweep 1 'wine-rf' · data wine@D0" in out
    code, out, _ = cli(capsys, ws, "model", "ls")
    assert "production → 2, staging → 1" in out

    removed = ok_json(capsys, ws, "model", "alias", "wine-rf", "staging", "--remove")
    assert removed == {"model": "wine-rf", "alias": "staging", "removed_from": 1}


def test_diff_as_json_and_as_a_table(capsys: pytest.CaptureFixture[str], ws: Workspace) -> None:
    r1, r2, _ = kept_run_ids(ws)
    cli(capsys, ws, "model", "register", str(r1), "--name", "wine-rf")
    cli(capsys, ws, "model", "register", str(r2), "--name", "wine-rf", "--alias", "production")
    result = ok_json(capsys, ws, "model", "diff", "wine-rf:1", "wine-rf@production")
    assert isinstance(result, dict)
    assert (result["a"], result["b"], result["identical"]) == ("wine-rf:1", "wine-rf:2", False)
    assert result["params"] and result["schema"] == []
    assert {m["key"] for m in result["metrics"]} >= {"accuracy", "f1", "log_loss"}
    assert [(r["key"], r["a"], r["b"]) for r in result["lineage"]] == [("run", r1, r2)]
    code, out, _ = cli(capsys, ws, "model", "diff", "wine-rf:1", "wine-rf:2")
    assert code == 0 and "wine-rf:1 → wine-rf:2" in out and "accuracy" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["model", "show", "nope"], "no model named 'nope' (the workspace has no registered"),
        (["model", "show", "wine-rf:x"], "'wine-rf:x' is not a model reference"),
        (["model", "register", "99", "--name", "m"], "no run with id 99"),
        (["model", "register", "1", "--name", "bad name"], "'bad name' is not a valid model"),
        (["model", "alias", "nope", "1", "production"], "no model named 'nope'"),
        (["model", "alias", "nope", "one", "production"], "'one' is not a version number"),
        (["model", "alias", "nope", "production"], "model alias takes NAME VERSION ALIAS"),
        (["model", "diff", "a:1", "b@"], "no model named 'a'"),
        (["model", "rm", "nope"], "name the version to remove, as NAME:VERSION"),
    ],
)
def test_bad_commands_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], ws: Workspace, args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, ws, *args)
    assert (code, out) == (1, "")
    assert err.startswith("workbench: error: ") and err.count("\n") == 1
    assert message in err


def test_a_corrupted_bundle_and_data_in_use_are_refused(
    capsys: pytest.CaptureFixture[str], ws: Workspace
) -> None:
    r1, _, _ = kept_run_ids(ws)
    record = ok_json(capsys, ws, "model", "register", str(r1), "--name", "wine-rf")
    assert isinstance(record, dict)
    code, _, err = cli(capsys, ws, "data", "rm", "wine@D0", "--force")
    assert code == 1 and err.count("\n") == 1
    assert "wine@D0 is used by model version wine-rf:1: remove them first" in err
    path = ArtifactStore(ws.paths.artifacts).path_for(record["bundle_sha256"])
    path.write_bytes(path.read_bytes() + b"tampered")
    from pipelines.registry.versions import load_model_version
    from storage.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match=f"wine-rf:1: bundle {path} hashes to"):
        load_model_version(ws, "wine-rf:1")
    code, out, err = cli(capsys, ws, "model", "rm", "wine-rf:1")
    assert (code, out.split(" (")[0]) == (0, "removed wine-rf:1"), err
    code, out, err = cli(capsys, ws, "data", "rm", "wine@D0", "--force")
    assert code == 0 and out.startswith("removed wine@D0"), err
