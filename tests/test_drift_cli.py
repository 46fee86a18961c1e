"""`workbench drift` as a script uses it: a dataset version against a file, the verdict in
the exit code (1 drifts, 0 not, 2 an error), JSON, per-column overrides, the one-line
errors; and Evidently's own report, written by a child process, agreeing with the table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.sweep_helpers import SAMPLES
from workbench.cli import main

FEATURES_SHIFTED = {"alcohol": 1.5, "color_intensity": 3.0, "proline": 400.0, "hue": 0.4}


def run(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--workspace", str(ws), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def wine(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    code, _, err = run(capsys, ws, "data", "add", str(SAMPLES / "wine.csv"), "--target", "cultivar")
    assert code == 0, err
    frame = pd.read_csv(SAMPLES / "wine.csv")
    frame.to_parquet(tmp_path / "same.parquet")
    shifted = frame.copy()
    for column, delta in FEATURES_SHIFTED.items():
        shifted[column] = shifted[column] + delta
    shifted.to_csv(tmp_path / "shifted.csv", index=False)
    shifted.to_json(tmp_path / "shifted.jsonl", orient="records", lines=True)
    return ws


def test_a_shifted_file_drifts_with_exit_1_and_the_same_rows_do_not(
    capsys: pytest.CaptureFixture[str], wine: Path, tmp_path: Path
) -> None:
    code, out, _ = run(capsys, wine, "drift", "wine@D0", str(tmp_path / "same.parquet"))
    assert code == 0 and "0 of 14 columns drifted" in out and "does not drift" in out
    shifted = str(tmp_path / "shifted.csv")
    code, out, _ = run(capsys, wine, "drift", "wine", shifted, "--drift-share", "0.25")
    assert code == 1 and "4 of 14 columns drifted" in out and "the dataset drifts" in out
    code, out, _ = run(capsys, wine, "drift", "wine", str(tmp_path / "shifted.jsonl"), "--json")
    result = json.loads(out)
    assert code == 0 and result["threshold"] == 0.5  # 4/14 is under Evidently's 0.5
    drifted = {c["column"] for c in result["columns"] if c["drifted"]}
    assert drifted == set(FEATURES_SHIFTED)
    assert {c["method"] for c in result["columns"]} == {"ks", "chisquare"}  # 178 rows: small


def test_per_column_overrides_and_a_column_subset(
    capsys: pytest.CaptureFixture[str], wine: Path, tmp_path: Path
) -> None:
    shifted = str(tmp_path / "shifted.csv")
    args = ["drift", "wine", shifted, "--json", "--columns", "alcohol,ash,hue"]
    args += ["--column-method", "alcohol=wasserstein", "--column-threshold", "hue=1e-300"]
    code, out, _ = run(capsys, wine, *args)
    columns = {c["column"]: c for c in json.loads(out)["columns"]}
    assert set(columns) == {"alcohol", "ash", "hue"}
    assert columns["alcohol"]["method"] == "wasserstein" and columns["alcohol"]["drifted"]
    assert columns["hue"]["threshold"] == 1e-300 and not columns["hue"]["drifted"]
    assert code == 0  # 1 of 3 drifted


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["wine", "missing.csv"], "missing.csv: no such file"),
        (["wine"], "name two sides"),
        (["wine", "nosuch@D3"], "nosuch"),
        (["wine", "BAD"], "share no column"),
        (["wine", "wine", "--method", "magic"], "unknown drift method 'magic'"),
        (["wine", "wine", "--column-threshold", "hue=high"], "'high' is not a number"),
        (["wine", "wine", "--report", "out.pdf"], "written as .html or .json"),
        (["wine", "--deployment", "nowhere"], "nowhere"),
    ],
)
def test_bad_requests_exit_2_in_one_line(
    capsys: pytest.CaptureFixture[str], wine: Path, tmp_path: Path, args: list[str], said: str
) -> None:
    (tmp_path / "BAD.csv").write_text("x,y\n1,2\n")
    args = [str(tmp_path / a) if a in ("missing.csv", "BAD") else a for a in args]
    args = [a + ".csv" if a.endswith("BAD") else a for a in args]
    code, out, err = run(capsys, wine, "drift", *args)
    assert code == 2 and out == "", out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("workbench drift: error: "), err
    assert said in lines[0], lines[0]


def test_evidently_writes_its_report_and_its_verdicts_match(
    capsys: pytest.CaptureFixture[str], wine: Path, tmp_path: Path
) -> None:
    report = tmp_path / "drift.json"
    shifted = str(tmp_path / "shifted.csv")
    code, out, err = run(capsys, wine, "drift", "wine", shifted, "--json", "--report", str(report))
    ours = {c["column"]: c for c in json.loads(out)["columns"]}
    assert code == 0 and f"wrote {report}" in err
    values = {
        m["config"]["column"]: m
        for m in json.loads(report.read_text())["metrics"]
        if m["config"]["type"].endswith("ValueDrift")
    }
    assert set(values) == set(ours)
    for column, metric in values.items():
        assert metric["config"]["method"] == ours[column]["method_label"], column
        assert metric["value"] == pytest.approx(ours[column]["score"], abs=1e-6), column
    html = tmp_path / "drift.html"
    code, _, _ = run(capsys, wine, "drift", "wine", shifted, "--report", str(html))
    assert code == 0 and html.read_text().lstrip().lower().startswith("<!doctype html")
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")]
