"""`make soak` in small: 20 s on cancer at a given rate, 5 s windows, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from resilience import soak

RATE = 20.0  # requests/s: far below what cancer serves, so nothing may fail
WINDOW = 5.0


def test_a_short_soak_reports_windows_memory_and_goals(tmp_path: Path) -> None:
    args = ["--models", "cancer", "--rates", f"cancer={RATE:g}", "--minutes", str(20 / 60)]
    args += ["--window", str(WINDOW), "--rss-interval", "1", "--results", str(tmp_path)]
    code = soak.main(args)
    (path,) = tmp_path.glob("soak-*/report.json")
    report = json.loads(path.read_text())

    assert code == (0 if report["passed"] else 1), report["goals"]
    assert report["capacity"] is None and report["rates"] == {"cancer": RATE}
    assert [row["window"] for row in report["windows"]] == [1, 2, 3, 4]
    for row in report["windows"]:
        seen = row["models"]["cancer"]
        assert abs(seen["requests"] - RATE * WINDOW) <= 2, ("paced, open loop", row)
        assert seen["failed"] == 0 and seen["p99_ms"] is not None, row
    assert report["overall"]["cancer"]["failed"] == 0, report["overall"]
    processes = sorted(row["process"] for row in report["rss"])
    expected = ["frontend", "launcher", "whole tree", "worker cancer", "worker cancer"]
    assert processes == expected, report["rss"]
    assert all(row["first_mib"] > 0 and row["last_mib"] > 0 for row in report["rss"])
    assert isinstance(report["p99_drift"]["cancer"], float)
    assert {goal["goal"] for goal in report["goals"]} >= {
        "cancer: at most 0.1% failed",
        "RSS of the whole tree grows < 5%",
    }
