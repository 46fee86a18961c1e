"""Is a deployment answering? Plain HTTP on loopback, with short timeouts, so a server that
stops answering is reported as down within seconds instead of hanging whoever asked."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


class NotAnswering(RuntimeError):
    """The deployment did not answer its health check in time; the message is one line."""


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on host:port (the check before a deployment binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def get_json(url: str, *, token: str | None = None, timeout_s: float = 2.0) -> Any:
    """GET `url` and decode its JSON; NotAnswering on any network failure or bad status."""
    request = urllib.request.Request(url, headers=_headers(token))
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise NotAnswering(f"{url} answered {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NotAnswering(f"{url} does not answer ({reason})") from None


def wait_healthy(
    url: str,
    *,
    timeout_s: float = 60.0,
    token: str | None = None,
    gone: Callable[[], str | None] = lambda: None,
) -> dict[str, Any]:
    """Poll `url/health` until it answers; `gone()` returns a reason when the process or
    container has already exited (no point waiting), else None."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        reason = gone()
        if reason:
            raise NotAnswering(reason)
        try:
            answer = get_json(f"{url}/health", token=token, timeout_s=2.0)
        except NotAnswering as exc:
            last = str(exc)
        else:
            return answer if isinstance(answer, dict) else {"status": answer}
        time.sleep(0.2)
    raise NotAnswering(f"{url} was not healthy after {timeout_s:.0f} s ({last})")


def _headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}
