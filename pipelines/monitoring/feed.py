"""The client side of a deployment's monitoring API: logged requests read incrementally
from `/monitoring/records?after=ID&limit=N` (with the bearer token when there is one), and
the model's facts from `/metadata`.

The feed remembers the last id it has read, so each record comes once; a pull pages until
it has caught up, at most `max_pages` pages per call, so a burst is read over a few calls
rather than in one long one. Labels arrive later than the requests they label, and the app
joins each record with its newest label at read time, so a label for an old id is picked
up by reading that id again (`reread`). Plain urllib on loopback: no heavy import."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from storage.errors import WorkbenchError

PAGE = 500
MAX_PAGES = 10  # per pull: 5,000 records
TIMEOUT_S = 5.0


class MonitoringError(WorkbenchError):
    """A deployment that does not answer its monitoring API, or answers nonsense (one line)."""


def request_json(
    method: str,
    url: str,
    body: Any = None,
    *,
    token: str | None = None,
    timeout_s: float = TIMEOUT_S,
) -> tuple[int, Any]:
    """(status, decoded JSON) of one request; a refusal with a JSON body is an answer, not
    an error. MonitoringError when nothing (or no JSON) comes back."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body, separators=(",", ":"), default=str).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise MonitoringError(f"{_where(url)} does not answer ({_line(reason)})") from None
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        raise MonitoringError(f"{_where(url)} answered {status} without JSON") from None


class RecordFeed:
    """New logged requests of one deployment, each read once, in id order."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        after: int = 0,
        page: int = PAGE,
        max_pages: int = MAX_PAGES,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.after = after  # the last id read
        self.last_id = after  # the newest id the server has logged, as of the last answer
        self.page, self.max_pages, self.timeout_s = max(1, min(page, 1000)), max_pages, timeout_s

    @property
    def behind(self) -> int:
        """Records logged but not read yet, as of the last answer."""
        return max(0, self.last_id - self.after)

    def pull(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The records logged since the last pull (at most `limit`, at most `max_pages`
        pages). MonitoringError when the first page cannot be read; when a later one fails,
        what was read is returned (the next pull raises if the server is still gone)."""
        found: list[dict[str, Any]] = []
        for _ in range(self.max_pages):
            want = self.page if limit is None else min(self.page, limit - len(found))
            if want <= 0:
                break
            try:
                records, last_id = self._page(self.after, want)
            except MonitoringError:
                if found:
                    return found
                raise
            if last_id < self.after:
                raise MonitoringError(
                    f"{_where(self.url)} has logged {last_id} requests but {self.after} were "
                    "read: its request log was replaced, so watch it afresh"
                )
            self.last_id = last_id
            if records:
                self.after = int(records[-1]["id"])
                found += records
            if len(records) < want or self.after >= self.last_id:
                break
        return found

    def reread(self, after: int, until: int, limit: int = PAGE * MAX_PAGES) -> list[dict[str, Any]]:
        """Records with ids in (after, until] read again, at most `limit` (labels that came
        for them since). The feed's own position does not move."""
        found: list[dict[str, Any]] = []
        while after < until and len(found) < limit:
            want = min(self.page, limit - len(found), until - after)
            records, _ = self._page(after, want)
            records = [r for r in records if int(r["id"]) <= until]
            if not records:
                break
            found += records
            after = int(records[-1]["id"])
            if len(records) < want:
                break
        return found

    def metadata(self) -> dict[str, Any]:
        """The model's facts: name, version, task, classes, schema, metrics, lineage."""
        answer = self._get("/metadata")
        if not isinstance(answer, dict) or "schema" not in answer:
            raise MonitoringError(f"{_where(self.url)}/metadata is not a model's metadata")
        return answer

    def _page(self, after: int, limit: int) -> tuple[list[dict[str, Any]], int]:
        answer = self._get(f"/monitoring/records?after={int(after)}&limit={int(limit)}")
        records = answer.get("records") if isinstance(answer, dict) else None
        if not isinstance(records, list) or not all(_is_record(r) for r in records):
            raise MonitoringError(f"{_where(self.url)}/monitoring/records is not a record page")
        last_id = answer.get("last_id")
        return records, int(last_id) if isinstance(last_id, int) else after + len(records)

    def _get(self, path: str) -> Any:
        status, answer = request_json("GET", self.url + path, token=self.token,
                                      timeout_s=self.timeout_s)  # fmt: skip
        if status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            said = f": {_line(detail)}" if detail else ""
            raise MonitoringError(f"{_where(self.url)}{path.split('?')[0]} answered {status}{said}")
        return answer


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), int)


def _where(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else url


def _line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text[:200]
