"""`workbench predict`: batch scoring through serving's own check and scoring. The same rows
sent to a real server and scored by the command get identical predictions and
probabilities, in every file format; bad input is one line naming what is wrong, and leaves
no output behind."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from pipelines.registry.versions import register_model
from storage.handle import open_workspace
from tests.serving_helpers import (
    CHURN,
    CLEAN_STOP,
    Server,
    churn_rows,
    churn_sweep,
    export_bundle,
)
from workbench import cli_predict
from workbench.cli import main

ROWS = 60


@pytest.fixture(scope="module")
def kept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, Path]:
    """(workspace root, kept run id, the run's bundle folder)."""
    root = tmp_path_factory.mktemp("predict")
    run_id = churn_sweep(root / "ws")
    ws = open_workspace(root / "ws")
    try:
        register_model(ws, run_id, "churn", alias="production")
    finally:
        ws.close()
    return root / "ws", run_id, export_bundle(root / "ws", run_id, root / "bundle")


@pytest.fixture(scope="module")
def server(
    kept: tuple[Path, int, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    served = Server(kept[2], tmp_path_factory.mktemp("predict-log"))
    yield served
    assert served.stop() == CLEAN_STOP


def predict(ws: Path, *args: str) -> int:
    return main(["--workspace", str(ws), "predict", *args])


def read(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, float_precision="round_trip")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.DataFrame([json.loads(line) for line in path.read_text("utf-8").splitlines()])


def served_answers(server: Server, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Predictions and probabilities for `rows`: half sent one by one, half as one list."""
    predictions, probabilities = [], []
    half = len(rows) // 2
    for row in rows[:half]:
        status, answer, _ = server.call("POST", "/predict", row)
        assert status == 200
        predictions += answer["predictions"]
        probabilities += answer["probabilities"]
    status, answer, _ = server.call("POST", "/predict", rows[half:])
    assert status == 200
    return predictions + answer["predictions"], probabilities + answer["probabilities"]


def test_served_and_batch_predictions_are_identical(
    kept: tuple[Path, int, Path], server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, run_id, bundle = kept
    source = tmp_path / "rows.csv"
    source.write_text("".join(CHURN.read_text("utf-8").splitlines(True)[: ROWS + 1]), "utf-8")
    predictions, probabilities = served_answers(server, churn_rows(ROWS))

    outputs = []
    for model, name in (
        (f"run:{run_id}", "a.csv"),
        (str(run_id), "b.jsonl"),
        (str(bundle), "c.parquet"),
        ("churn@production", "d.csv"),
    ):
        assert predict(ws, model, str(source), "-o", str(tmp_path / name)) == 0
        said = capsys.readouterr().out
        assert f"scored {ROWS} rows" in said and "ignored: customer_id, churned" in said
        outputs.append(read(tmp_path / name))
    for frame in outputs:
        assert frame["prediction"].tolist() == predictions
        assert frame["probability_no"].tolist() == [p["no"] for p in probabilities]
        assert frame["probability_yes"].tolist() == [p["yes"] for p in probabilities]
        assert frame["customer_id"].tolist() == pd.read_csv(source)["customer_id"].tolist()

    # JSON Lines in (the output just written, less its scores) scores the same again.
    again = tmp_path / "again.jsonl"
    (tmp_path / "in.jsonl").write_text(
        "".join(
            json.dumps(
                {k: v for k, v in json.loads(line).items() if not k.startswith(("pred", "prob"))}
            )
            + "\n"
            for line in (tmp_path / "b.jsonl").read_text("utf-8").splitlines()
        ),
        "utf-8",
    )
    assert predict(ws, str(run_id), str(tmp_path / "in.jsonl"), "-o", str(again)) == 0
    assert read(again)["probability_yes"].tolist() == outputs[0]["probability_yes"].tolist()


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("workbench: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_bad_input_is_one_line_naming_what_is_wrong_and_writes_nothing(
    kept: tuple[Path, int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, run_id, _ = kept
    frame = pd.read_csv(CHURN, nrows=30)
    out = tmp_path / "out.csv"

    frame.drop(columns=["region", "contract"]).to_csv(tmp_path / "missing.csv", index=False)
    assert predict(ws, str(run_id), str(tmp_path / "missing.csv"), "-o", str(out)) == 1
    err = one_line_error(capsys)
    assert "region: required feature is missing" in err and "contract" in err

    typed = frame.astype({"tenure_months": object})
    typed.loc[4, "tenure_months"] = "soon"
    typed.to_csv(tmp_path / "typed.csv", index=False)
    assert predict(ws, str(run_id), str(tmp_path / "typed.csv"), "-o", str(out)) == 1
    assert "tenure_months: expected a number, got 'soon'" in one_line_error(capsys)

    cases = [
        (str(run_id), str(tmp_path / "nothing.csv"), "no such file"),
        (str(run_id), str(tmp_path / "rows.xlsx"), "must be a file ending in one of"),
        ("nosuch@production", str(tmp_path / "missing.csv"), "no model named 'nosuch'"),
        ("churn@staging", str(tmp_path / "missing.csv"), "staging"),
        ("no such/model", str(tmp_path / "missing.csv"), "not a bundle folder, a run id"),
        ("999", str(tmp_path / "missing.csv"), "999"),
    ]
    for model, source, expected in cases:
        assert predict(ws, model, source, "-o", str(out)) == 1
        assert expected in one_line_error(capsys), (model, source)
    assert not out.exists() and list(tmp_path.glob(".*partial")) == []


def test_a_bad_chunk_late_in_the_file_leaves_no_output(
    kept: tuple[Path, int, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws, run_id, _ = kept
    monkeypatch.setattr(cli_predict, "CHUNK_ROWS", 100)
    frame = pd.read_csv(CHURN, nrows=450).astype({"monthly_charges": object})
    frame.loc[420, "monthly_charges"] = "lots"
    frame.to_csv(tmp_path / "late.csv", index=False)
    out = tmp_path / "out.parquet"
    assert predict(ws, str(run_id), str(tmp_path / "late.csv"), "-o", str(out)) == 1
    assert "rows 401-450" in one_line_error(capsys)
    assert not out.exists() and list(tmp_path.glob(".*partial")) == []

    frame.loc[420, "monthly_charges"] = 12.5
    frame.to_csv(tmp_path / "late.csv", index=False)
    assert predict(ws, str(run_id), str(tmp_path / "late.csv"), "-o", str(out)) == 0
    assert len(pd.read_parquet(out)) == 450


def test_a_damaged_bundle_is_refused_in_one_line(
    kept: tuple[Path, int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ws, _, bundle = kept
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    data = (damaged / "model.pkl").read_bytes()
    (damaged / "model.pkl").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    assert predict(ws, str(damaged), str(CHURN), "-o", str(tmp_path / "o.csv")) == 1
    assert "does not match" in one_line_error(capsys)


def test_chunks_read_scored_and_written_at_once_keep_their_order(
    kept: tuple[Path, int, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reader and writer threads (workbench.cli_predict_io) change nothing: small chunks
    give the file one chunk gives, and a file that breaks late is one line, no output."""
    ws, run_id, _ = kept
    assert predict(ws, str(run_id), str(CHURN), "-o", str(tmp_path / "whole.csv")) == 0
    monkeypatch.setattr(cli_predict, "CHUNK_ROWS", 70)
    assert predict(ws, str(run_id), str(CHURN), "-o", str(tmp_path / "chunked.csv")) == 0
    whole = (tmp_path / "whole.csv").read_bytes()
    assert whole == (tmp_path / "chunked.csv").read_bytes() and whole.count(b"\n") > 1000

    lines = CHURN.read_text("utf-8").splitlines()
    broken = [*lines[:900], "C9,1,2,3,two-year,x,1,north,no,extra,fields", *lines[900:]]
    (tmp_path / "broken.csv").write_text("\n".join(broken) + "\n", "utf-8")
    out = tmp_path / "out.jsonl"
    assert predict(ws, str(run_id), str(tmp_path / "broken.csv"), "-o", str(out)) == 1
    assert "cannot be read as csv" in one_line_error(capsys)
    assert not out.exists() and list(tmp_path.glob(".*partial")) == []


def test_csv_chunks_are_written_by_arrow_exactly_or_by_pandas_where_arrow_cannot() -> None:
    """Text and numbers go through Arrow's writer and read back identical to the bit;
    a column mixing kinds, or booleans and times, are written by pandas as before."""
    import io

    import numpy as np

    rng = np.random.default_rng(0)
    plain = pd.DataFrame(
        {
            "id": [f"C{i}" for i in range(200)],
            "count": rng.integers(-5, 5, 200),
            "amount": rng.normal(0, 1e6, 200),
            "tiny": rng.normal(0, 1e-300, 200),
            "with_gaps": np.where(rng.random(200) < 0.2, np.nan, rng.random(200)),
            "label": rng.choice(["yes", "no, really", 'say "hi"', None], 200),
        }
    )
    written = cli_predict._csv_bytes(plain, header=True)
    assert written.startswith(b'"id","count"')  # Arrow's spelling: text quoted
    back = pd.read_csv(io.BytesIO(written), float_precision="round_trip")
    expected = pd.read_csv(io.StringIO(plain.to_csv(index=False)), float_precision="round_trip")
    pd.testing.assert_frame_equal(back, expected, check_exact=True)
    assert cli_predict._csv_bytes(plain.iloc[5:9], header=False).count(b"\n") == 4

    for odd in (
        plain.assign(mixed=[1, "a", True, None] * 50),
        plain.assign(flag=[True, False] * 100),
        plain.assign(at=pd.date_range("2024-01-01", periods=200, freq="h")),
    ):
        assert cli_predict._csv_bytes(odd, header=True) == odd.to_csv(index=False).encode()
