"""The server logs with config/log4j2.xml: a line per request in the access log, no debug,
no per-batch echoes, and every file rolled over at a size cap with a bounded number kept."""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from xml.etree import ElementTree

from server.launcher import TorchServe
from server.settings import LOG_CONFIG, ROOT
from tests.integration.conftest import Api, running_server

ROW = (ROOT / "examples" / "cancer_row.json").read_bytes()
JSON = {"Content-Type": "application/json"}
CAP = 16 * 1024  # bytes: the test's size cap, so a few thousand requests roll files over
REQUESTS = 2000  # about 85 bytes of access log each: ten rollovers at CAP
LINE_SLACK = 1024  # a file rolls over once past the cap: by at most one line


def appears(path: Path, text: str, timeout: float = 10.0) -> bool:
    """Whether ``text`` shows up in ``path`` (async logging writes a moment later)."""
    return eventually(lambda: path.exists() and text in path.read_text(), timeout)


def eventually(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)  # polling interval, bounded by the deadline
    return True


def test_access_log_has_the_request_and_frontend_log_has_no_per_request_chatter(
    server: TorchServe, api: Api
) -> None:
    logs = server.log_file.parent
    reply = api.predict("cancer", data=ROW, headers=JSON)
    assert reply.status_code == 200, reply.text
    assert appears(logs / "access_log.log", '"POST /predictions/cancer HTTP/1.1" 200')
    frontend = (logs / "ts_log.log").read_text()
    assert "Torch worker started" not in frontend and frontend, "frontend lines only"
    assert "[DEBUG]" not in frontend, "upstream's default logs the frontend at DEBUG"
    assert "result=[METRICS]" not in frontend, "per-batch metric echoes are off"
    assert "ACCESS_LOG" not in frontend, "request lines go to the access log only"


def capped_log_config(folder: Path, cap: int) -> tuple[Path, int]:
    """The project's log4j2.xml with every file's size cap set to ``cap`` bytes, and how
    many rolled-over files each keeps (the same for all)."""
    tree = ElementTree.parse(LOG_CONFIG)
    appenders = tree.getroot().findall("./Appenders/RollingFile")
    keeps = set()
    for appender in appenders:
        assert "%i" in appender.get("filePattern", ""), "rolled files are numbered"
        policy = appender.find(".//SizeBasedTriggeringPolicy")
        strategy = appender.find("DefaultRolloverStrategy")
        assert policy is not None and strategy is not None, appender.get("name")
        policy.set("size", f"{cap // 1024} KB")
        keeps.add(int(strategy.get("max", "7")))  # log4j's default max is 7
    assert appenders and len(keeps) == 1, keeps
    path = folder / "log4j2.xml"
    tree.write(path)
    return path, keeps.pop()


def access_logs(logs: Path) -> dict[str, int]:
    return {path.name: path.stat().st_size for path in logs.glob("access_log*")}


def test_each_log_rolls_over_at_its_cap_and_keeps_a_bounded_number(tmp_path: Path) -> None:
    config, keep = capped_log_config(tmp_path, CAP)
    with running_server(tmp_path / "run", models=["cancer"], log_config=config) as server:
        api = Api(server)
        with ThreadPoolExecutor(4) as pool:
            replies = pool.map(
                lambda _: api.predict("cancer", data=ROW, headers=JSON).status_code, range(REQUESTS)
            )
            assert set(replies) == {200}
        logs = server.log_file.parent
        expected = {"access_log.log"} | {f"access_log.{i}.log.gz" for i in range(1, keep + 1)}
        # Rolled files are renamed, then gzipped on log4j's own thread: wait for the end state.
        assert eventually(lambda: set(access_logs(logs)) == expected), access_logs(logs)
    line = (logs / "access_log.log").read_text().splitlines()[-1] + "\n"
    bound = (keep + 1) * (CAP + LINE_SLACK)
    assert REQUESTS * len(line) > bound, "enough requests that old files had to be deleted"
    assert sum(access_logs(logs).values()) <= bound, access_logs(logs)
    for index in range(1, keep + 1):
        text = gzip.decompress((logs / f"access_log.{index}.log.gz").read_bytes()).decode()
        assert CAP <= len(text) <= CAP + LINE_SLACK, (index, len(text))
        assert '"POST /predictions/cancer HTTP/1.1" 200' in text, index
    assert_no_per_batch_lines(logs)


def assert_no_per_batch_lines(logs: Path) -> None:
    """After thousands of batches: none of TorchServe's per-batch INFO lines, and the
    console (TorchServe's stdout, docker logs) has no INFO line at all."""
    frontend = (logs / "ts_log.log").read_text()
    for echo in ("Looping backend response at", "Backend response time"):
        assert echo not in frontend, echo
    assert "Connecting to: " in frontend, "WorkerThread's other INFO lines stay"
    assert "Backend received inference at" not in (logs / "model_log.log").read_text()
    assert "[INFO ]" not in (logs / "console.log").read_text(), "console: WARN and up"
