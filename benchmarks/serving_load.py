"""Single-row POST /predict with 8 concurrent keep-alive connections against the real
server (`python -m pipelines.serving`: schema check, batching and request log on) serving a
LightGBM model from a small churn sweep, then a clean stop (SIGTERM) and a count of the
logged requests; beside it, as the floor, a bare FastAPI app calling the same model's
`predict_proba` on a one-row DataFrame (no check, no log). Prints figures.

Usage: python benchmarks/serving_load.py [SECONDS]  (default 20 per server)"""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CONNECTIONS = 8
BARE_APP = """
import json, sys
from pathlib import Path
import pandas as pd
from fastapi import FastAPI, Request, Response
from pipelines.serving.bundle import read_bundle
manifest, model = read_bundle(Path(sys.argv[1]))
app = FastAPI()

@app.post("/predict")
async def predict(request: Request) -> Response:
    frame = pd.DataFrame([json.loads(await request.body())])
    proba = model.predict_proba(frame)
    body = {"predictions": model.classes_[proba.argmax(axis=1)].tolist(), "p": proba.tolist()}
    return Response(json.dumps(body), media_type="application/json")

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def load(port: int, seconds: float, body: bytes) -> dict[str, float]:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                bad += response.status != 200
            except OSError:
                bad += 1
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=worker) for _ in range(CONNECTIONS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "errors": errors[0],
    }


def wait_up(port: int, path: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "server exited"
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def main() -> None:
    from tests.serving_helpers import churn_rows, churn_sweep, export_bundle, free_port

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    body = json.dumps(churn_rows(1)[0]).encode()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        bundle = export_bundle(folder / "ws", churn_sweep(folder / "ws"), folder / "bundle")

        port = free_port()
        command = [sys.executable, "-m", "pipelines.serving", "--bundle", str(bundle)]
        command += ["--log-dir", str(folder / "log"), "--port", str(port)]
        server = subprocess.Popen(command, cwd=ROOT)
        wait_up(port, "/health", server)
        ours = load(port, seconds, body)
        server.terminate()
        server.wait(60)
        with sqlite3.connect(folder / "log" / "requests.db") as connection:
            logged = connection.execute("SELECT count(*) FROM requests").fetchone()[0]

        (folder / "bare.py").write_text(textwrap.dedent(BARE_APP), encoding="utf-8")
        port = free_port()
        bare = subprocess.Popen(
            [sys.executable, str(folder / "bare.py"), str(bundle), str(port)], cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        wait_up(port, "/docs", bare)
        floor = load(port, seconds, body)
        bare.terminate()
        bare.wait(60)

    for name, figures in (("workbench serving", ours), ("bare FastAPI (floor)", floor)):
        print(
            f"{name:22} {figures['rps']:7.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
            f"p99 {figures['p99_ms']:6.1f} ms  errors {figures['errors']}  "
            f"({figures['requests']} requests, {CONNECTIONS} connections, {seconds:g} s)"
        )
    print(f"logged after SIGTERM: {logged} of {ours['requests']} acknowledged")


if __name__ == "__main__":
    main()
