"""The server logs with config/log4j2.xml: a line per request in the access log, no debug."""

from __future__ import annotations

import time
from pathlib import Path

from server.launcher import ROOT, TorchServe
from tests.integration.conftest import Api

ROW = (ROOT / "examples" / "cancer_row.json").read_bytes()


def appears(path: Path, text: str, timeout: float = 10.0) -> bool:
    """Whether ``text`` shows up in ``path`` (async logging writes a moment later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return True
        time.sleep(0.1)  # polling interval, bounded by the deadline
    return False


def test_access_log_has_the_request_and_frontend_log_has_no_per_request_chatter(
    server: TorchServe, api: Api
) -> None:
    logs = server.log_file.parent
    headers = {"Content-Type": "application/json"}
    reply = api.predict("cancer", data=ROW, headers=headers)
    assert reply.status_code == 200, reply.text
    assert appears(logs / "access_log.log", '"POST /predictions/cancer HTTP/1.1" 200')
    frontend = (logs / "ts_log.log").read_text()
    assert "Torch worker started" not in frontend and frontend, "frontend lines only"
    assert "[DEBUG]" not in frontend, "upstream's default logs the frontend at DEBUG"
    assert "result=[METRICS]" not in frontend, "per-batch metric echoes are off"
    assert "ACCESS_LOG" not in frontend, "request lines go to the access log only"
