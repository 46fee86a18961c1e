"""Single-row `POST /predict` from 8 concurrent keep-alive connections, as a client of a
deployed model would send them, against three servers of the same LightGBM model (the
churn sample) in the same run, interleaved:

- workbench: `python -m pipelines.serving` (schema check and request log on), what images run;
- floor: a bare FastAPI app calling the same pipeline's predict_proba on a one-row frame
  (no validation, no logging) — what any FastAPI server of this model costs;
- mlflow: `mlflow models serve` of the same pipeline, in a side venv the script creates on
  first use under ~/.cache/workbench-bench (skipped with a note where it cannot be made).

Prints requests per second, p50 and p99 latency, errors, and for workbench whether every
acknowledged request was logged (counted in its log file after a SIGTERM sent right after
the last answer). Target: ≥ 10× MLflow, p99 ≤ 50 ms, 0 errors.

With `--baseline REV` a fourth server runs `pipelines/serving` as it was at git revision
REV, in the same rounds, to measure a change before and after in one run.

    python benchmarks/serving.py [--seconds 15] [--rounds 3] [--connections 8] [--baseline REV]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHURN = ROOT / "assets" / "sample_data" / "churn_v1.csv"
SIDE_VENV = Path.home() / ".cache" / "workbench-bench" / "mlflow-venv"

FLOOR_APP = """
import sys
from pathlib import Path
import pandas as pd
from fastapi import FastAPI, Request
from pipelines.serving.bundle import read_bundle

manifest, model = read_bundle(Path(sys.argv[1]))
app = FastAPI()

@app.post("/predict")
async def predict(request: Request):
    record = await request.json()
    frame = pd.DataFrame([record])
    return {"probabilities": model.predict_proba(frame).tolist()}

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""

MLFLOW_SAVE = """
import sys
from pathlib import Path
import mlflow.sklearn
from pipelines.serving.bundle import read_bundle

manifest, model = read_bundle(Path(sys.argv[1]))
mlflow.sklearn.save_model(model, sys.argv[2], serialization_format="cloudpickle")
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(folder: Path) -> Path:
    """A real one-trial LightGBM sweep on churn; its kept model as a bundle folder."""
    sys.path.insert(0, str(ROOT))
    from pipelines.datasets.versions import register_dataset
    from pipelines.runs.details import list_runs
    from pipelines.runs.models import load_run_bundle
    from pipelines.serving.bundle import write_bundle
    from pipelines.sweeps.lifecycle import create_sweep
    from pipelines.sweeps.worker import run_worker
    from storage.handle import open_workspace

    ws = open_workspace(folder / "ws")
    try:
        register_dataset(ws, CHURN, name="churn", target="churned")
        spec = {"dataset": "churn", "model": "lightgbm", "trials": 1, "folds": 2, "pruner": "none"}
        sweep = create_sweep(ws, spec).sweep
        run_worker(ws, sweep.id)
        [run] = [r for r in list_runs(ws, sweep_id=sweep.id) if r.artifact_sha]
        manifest, _ = load_run_bundle(ws, run.id)
        assert manifest is not None
        data = ws.artifacts.get_bytes(run.artifact_sha or "")
        return write_bundle(folder / "bundle", data, manifest)
    finally:
        ws.close()


def one_row() -> dict[str, Any]:
    import pandas as pd

    frame = pd.read_csv(CHURN, nrows=1).drop(columns=["churned", "customer_id"], errors="ignore")
    return {
        k: (None if pd.isna(v) else v.item() if hasattr(v, "item") else v)
        for k, v in frame.iloc[0].items()
    }


def serving_code(folder: Path, revision: str | None = None) -> Path:
    """Only pipelines/serving, as an image carries it: the working tree's, or as it was at
    git `revision`."""
    target = folder / "pipelines"
    if revision is None:
        shutil.copytree(
            ROOT / "pipelines" / "serving",
            target / "serving",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    else:
        target.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", revision, "pipelines/serving"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    (target / "__init__.py").write_text("")
    return folder


def workbench_server(name: str, code: Path, bundle: Path, log_dir: Path, record: Any) -> Server:
    """`python -m pipelines.serving` run from `code` (so that copy is what it imports)."""
    port = free_port()
    argv = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
    argv += ["--log-dir", str(log_dir), "--port", str(port)]
    server = Server(name, argv, port, "/predict", record, {"PYTHONPATH": str(code)}, cwd=code)
    server.log_dir = log_dir
    return server


def side_venv() -> Path | None:
    """A venv with MLflow and this machine's model libraries, made once."""
    python = SIDE_VENV / "bin" / "python"
    if python.exists():
        return python
    from importlib import metadata

    pins = [
        f"{n}=={metadata.version(n)}"
        for n in ("scikit-learn", "lightgbm", "numpy", "pandas", "scipy")
    ]
    print(f"creating {SIDE_VENV} with mlflow (once) …", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(SIDE_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "mlflow", *pins], check=True, timeout=900
        )
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"mlflow: skipped, the side venv could not be made ({exc})")
        shutil.rmtree(SIDE_VENV, ignore_errors=True)
        return None
    return python


class Server:
    def __init__(
        self,
        name: str,
        argv: list[str],
        port: int,
        path: str,
        body: Any,
        env: dict[str, str],
        cwd: Path | None = None,
    ) -> None:
        self.name, self.argv, self.port, self.path, self.body, self.env = (
            name,
            argv,
            port,
            path,
            body,
            env,
        )
        self.cwd = cwd
        self.log_dir: Path | None = None  # a workbench server's request log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                status, _ = request(self.port, self.path, self.body)
                if status == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                tail = self.process.stderr.read().decode()[-500:] if self.process.stderr else ""
                raise RuntimeError(f"{self.name} exited: {tail}")
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer in 120 s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


def request(
    port: int, path: str, body: Any, connection: http.client.HTTPConnection | None = None
) -> tuple[int, bytes]:
    own = connection is None
    connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        if own:
            connection.close()


def load(server: Server, seconds: float, connections: int) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(connections)]
    errors = [0] * connections
    stop_at = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        payload = json.dumps(server.body)
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            try:
                connection.request(
                    "POST", server.path, payload, {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            if ok:
                latencies[index].append(time.perf_counter() - started)
            else:
                errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    every = sorted(x for part in latencies for x in part)
    return {
        "ok": len(every),
        "rps": len(every) / elapsed,
        "p50_ms": 1000 * every[len(every) // 2] if every else float("nan"),
        "p99_ms": 1000 * every[min(len(every) - 1, int(len(every) * 0.99))]
        if every
        else float("nan"),
        "errors": sum(errors),
    }


def logged_count(log_dir: Path) -> int:
    """Requests in the server's log, read from its file after a clean stop."""
    import sqlite3

    if not (log_dir / "requests.db").exists():
        return 0
    with sqlite3.connect(log_dir / "requests.db") as connection:
        return int(connection.execute("SELECT count(*) FROM requests").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--baseline", metavar="REV", help="also serve pipelines/serving at REV")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle = train(folder)
        record = one_row()
        code = serving_code(folder / "code")
        (folder / "floor.py").write_text(FLOOR_APP)
        servers = [
            workbench_server("workbench", code, bundle, folder / "log", record),
            Server(
                "floor (bare FastAPI)",
                [sys.executable, str(folder / "floor.py"), str(bundle), str(port := free_port())],
                port,
                "/predict",
                record,
                {"PYTHONPATH": str(code)},
            ),
        ]
        if args.baseline:
            before = serving_code(folder / "before", args.baseline)
            name = f"workbench at {args.baseline}"
            servers.insert(1, workbench_server(name, before, bundle, folder / "log-before", record))
        python = None if args.no_mlflow else side_venv()
        if python is not None:
            model_dir = folder / "mlflow-model"
            saved = subprocess.run(
                [str(python), "-c", MLFLOW_SAVE, str(bundle), str(model_dir)],
                env={**os.environ, "PYTHONPATH": str(code)},
                capture_output=True,
                text=True,
            )
            if saved.returncode:
                print(f"mlflow: skipped, saving the model failed: {saved.stderr.strip()[-300:]}")
                python = None
        if python is not None:
            mlflow = python.parent / "mlflow"
            servers.append(
                Server(
                    "mlflow models serve",
                    [
                        str(mlflow),
                        "models",
                        "serve",
                        "-m",
                        str(model_dir),
                        "--env-manager",
                        "local",
                        "--host",
                        "127.0.0.1",
                        "-p",
                        str(port := free_port()),
                    ],
                    port,
                    "/invocations",
                    {"dataframe_records": [record]},
                    # MLflow starts its own uvicorn through bash: the side venv goes first.
                    {"PYTHONPATH": str(code), "PATH": f"{python.parent}:{os.environ['PATH']}"},
                )
            )
        results: dict[str, list[dict[str, float]]] = {s.name: [] for s in servers}
        logged_ok = {s.name: True for s in servers if s.log_dir}
        for _ in range(args.rounds):
            for server in servers:
                server.start()
                log_dir = server.log_dir
                before = logged_count(log_dir) if log_dir else 0
                try:
                    result = load(server, args.seconds, args.connections)
                finally:
                    server.stop()  # SIGTERM right after the last answer: a clean stop
                if log_dir:
                    # The startup probe's request is logged too; the count is what this
                    # round's clients were answered, read after the stop.
                    logged = logged_count(log_dir) - before - 1
                    logged_ok[server.name] &= logged == result["ok"]
                results[server.name].append(result)
    print(
        f"single-row POST, {args.connections} connections, "
        f"{args.seconds:g} s × {args.rounds} rounds (interleaved)"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores)")
    print(f"{'server':30} {'req/s median (range)':>22} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, rounds in results.items():
        rps = [r["rps"] for r in rounds]
        p50 = statistics.median(r["p50_ms"] for r in rounds)
        p99 = statistics.median(r["p99_ms"] for r in rounds)
        errors = sum(int(r["errors"]) for r in rounds)
        print(
            f"{name:30} {statistics.median(rps):10.0f} ({min(rps):.0f}–{max(rps):.0f}){'':4} "
            f"{p50:8.1f} {p99:8.1f} {errors:7d}"
        )
    ours = statistics.median(r["rps"] for r in results["workbench"])
    if "mlflow models serve" in results:
        theirs = statistics.median(r["rps"] for r in results["mlflow models serve"])
        print(f"workbench / mlflow: {ours / theirs:.1f}× (target ≥ 10×)")
    p99 = statistics.median(r["p99_ms"] for r in results["workbench"])
    print(f"workbench p99 {p99:.1f} ms (target ≤ 50 ms)")
    for name, ok in logged_ok.items():
        print(f"{name}: every acknowledged request logged: {ok}")


if __name__ == "__main__":
    main()
