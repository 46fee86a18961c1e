"""The request log keeps every request a server answered: a real server answering
concurrent clients, stopped with SIGTERM right after the last answer, has logged each one
(read back from the SQLite file after the process is gone). And a server that cannot start
says why in one line."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipelines.serving.request_log import LOG_FILE
from tests.serving_helpers import CLEAN_STOP, ROOT, Server, churn_rows, churn_sweep, export_bundle


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("serving-stop")
    return export_bundle(root / "ws", churn_sweep(root / "ws"), root / "bundle")


def logged(log_dir: Path) -> tuple[list[int], int]:
    with sqlite3.connect(log_dir / LOG_FILE) as connection:
        ids = [row[0] for row in connection.execute("SELECT id FROM requests ORDER BY id")]
        feedback = connection.execute("SELECT count(*) FROM feedback").fetchone()[0]
    return ids, feedback


def test_a_clean_stop_right_after_the_last_answer_loses_nothing(
    bundle: Path, tmp_path: Path
) -> None:
    log_dir = tmp_path / "log"
    # The log gathers for 30 s: nothing is written before the stop, so only the shutdown's
    # flush can have written what is counted below.
    server = Server(bundle, log_dir, extra=("--log-batch-seconds", "30"))
    rows = churn_rows(20)
    assert server.call("POST", "/predict", rows[0])[0] == 200
    assert server.call("POST", "/feedback", {"request_id": 1, "label": "yes"})[0] == 200
    assert logged(log_dir) == ([1], 0)  # feedback waits for its request to be written
    answered: list[int] = []
    lock = threading.Lock()

    alone = [expected_probabilities(bundle, row) for row in rows]
    mismatches: list[int] = []

    def client(offset: int) -> None:
        for i in range(40):
            position = (offset + i) % len(rows)
            status, answer, _ = server.call("POST", "/predict", rows[position])
            assert status == 200
            with lock:
                if answer["probabilities"][0] != alone[position]:
                    mismatches.append(position)
                answered.append(answer["request_id"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert logged(log_dir) == ([1], 0)
    assert server.stop() == CLEAN_STOP
    assert mismatches == []  # scored in batches with others, each row as if alone
    ids, feedback = logged(log_dir)
    assert len(answered) == 320 and sorted(answered) == ids[1:] == list(range(2, 322))
    assert feedback == 1

    # Restarted on the same log, ids go on from where they were.
    again = Server(bundle, log_dir)
    try:
        _, answer, _ = again.call("POST", "/predict", rows[0])
        assert answer["request_id"] == 322
    finally:
        assert again.stop() == CLEAN_STOP
    assert logged(log_dir)[0][-1] == 322


def expected_probabilities(bundle: Path, row: dict[str, object]) -> dict[str, float]:
    """The row scored alone, in this process, through the server's own check and scoring."""
    from pipelines.serving.records import check_records, frame_of
    from pipelines.serving.scoring import score
    from pipelines.serving.served import load_served

    served = load_served(bundle)
    schema = served.manifest.schema
    scored = score(served.model, served.manifest, frame_of(schema, [check_records(schema, row)]))
    [probabilities] = scored.probability_list() or [{}]
    return probabilities


def serve(bundle: Path, log_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
    command += ["--log-dir", str(log_dir), "--port", "1", *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_a_second_server_on_the_same_log_is_refused_in_one_line(
    bundle: Path, tmp_path: Path
) -> None:
    server = Server(bundle, tmp_path / "log")
    try:
        result = serve(bundle, tmp_path / "log")
        assert result.returncode == 1 and result.stderr.count("\n") == 1
        assert "another server is writing this request log" in result.stderr
        assert server.call("GET", "/health")[0] == 200
    finally:
        assert server.stop() == CLEAN_STOP


def test_a_damaged_or_missing_bundle_is_refused_in_one_line(bundle: Path, tmp_path: Path) -> None:
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    data = (damaged / "model.pkl").read_bytes()
    (damaged / "model.pkl").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    result = serve(damaged, tmp_path / "log")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "model.pkl" in result.stderr and "does not match" in result.stderr
    result = serve(tmp_path / "nowhere", tmp_path / "log")
    assert result.returncode == 1 and "manifest.json: no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_already_in_use_is_one_line(bundle: Path, tmp_path: Path) -> None:
    server = Server(bundle, tmp_path / "log")
    try:
        command = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
        command += ["--log-dir", str(tmp_path / "other"), "--port", str(server.port)]
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0 and "address already in use" in result.stderr
        assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
        assert server.call("GET", "/health")[0] == 200
    finally:
        assert server.stop() == CLEAN_STOP


def test_the_server_runs_from_a_lone_copy_of_the_serving_folder(
    bundle: Path, tmp_path: Path
) -> None:
    """As in an image: `pipelines/serving` copied alone beside an empty `pipelines/__init__.py`."""
    import json
    import shutil

    image = tmp_path / "image"
    shutil.copytree(
        ROOT / "pipelines" / "serving",
        image / "pipelines" / "serving",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (image / "pipelines" / "__init__.py").write_text("", encoding="utf-8")
    # pyarrow blocked: an image does not install it (pandas does without), so neither the
    # app nor scoring may need it.
    code = f"""
import sys, json
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "pyarrow":
            raise ImportError("pyarrow is not in serving images")
sys.meta_path.insert(0, Blocked())
from pathlib import Path
from pipelines.serving.app import create_app
from pipelines.serving.records import check_records, frame_of
from pipelines.serving.scoring import score
app = create_app(Path({str(bundle)!r}), log_dir=Path({str(tmp_path / "probe")!r}))
served = app.state.served
schema = served.manifest.schema
checked = check_records(schema, {churn_rows(1)[0]!r})
scored = score(served.model, served.manifest, frame_of(schema, [checked]))
print(json.dumps({{"from": sys.modules["pipelines"].__file__, "loaded": sorted(sys.modules),
                  "predictions": scored.prediction_list()}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=image, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["from"].startswith(str(image))
    forbidden = {"storage", "screens", "workbench", "textual", "sqlalchemy", "optuna"}
    assert [m for m in answer["loaded"] if m.split(".")[0] in forbidden | {"pyarrow"}] == []
    assert answer["predictions"][0] in ("no", "yes")

    server = Server(bundle, tmp_path / "log", cwd=image)
    try:
        status, predicted, _ = server.call("POST", "/predict", churn_rows(1)[0])
        assert status == 200 and predicted["predictions"][0] in ("no", "yes")
    finally:
        assert server.stop() == CLEAN_STOP
