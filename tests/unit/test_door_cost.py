"""bench/door_cost.py: the bare hop's configuration is one HAProxy accepts, and the report
shows the median round and each proxy's cost."""

from __future__ import annotations

import os
import subprocess

from bench.door_cost import BARE_CONFIG, median_round, table
from server.door import haproxy_binary


def test_bare_config_is_valid_haproxy() -> None:
    binary = haproxy_binary()  # `make test` installs it (install-haproxy)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DOOR_BIND": "127.0.0.1:1",
        "DOOR_THREADS": "1",
        "DOOR_BACKEND_MAXCONN": "16",
        "TS_INFERENCE_ADDRESS": "127.0.0.1:2",
    }
    checked = subprocess.run(
        [binary, "-c", "-f", str(BARE_CONFIG)], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_median_round_is_the_middle_one_with_the_range() -> None:
    rounds = [{"rps": 300.0, "p50_ms": 3}, {"rps": 100.0, "p50_ms": 9}, {"rps": 200.0, "p50_ms": 5}]
    shown = median_round(rounds)
    assert shown["rps"] == 200.0 and shown["p50_ms"] == 5
    assert shown["range"] == [100.0, 300.0]


def test_table_shows_ratio_and_proxy_cost_but_none_for_direct() -> None:
    rows = [
        {
            "model": "cancer",
            "clients": 64,
            "via": "direct",
            "rps": 8000.0,
            "ratio": 1.0,
            "p50_ms": 6.0,
            "p50_added_ms": 0.0,
            "proxy_us_per_request": None,
        },
        {
            "model": "cancer",
            "clients": 64,
            "via": "door",
            "rps": 6000.0,
            "ratio": 0.75,
            "p50_ms": 8.5,
            "p50_added_ms": 2.5,
            "proxy_us_per_request": 52.4,
        },
    ]
    lines = table(rows).splitlines()
    assert lines[2] == "| cancer | 64 | direct | 8,000 | 1.00 | 6.00 | +0.00 | - |"
    assert lines[3] == "| cancer | 64 | door | 6,000 | 0.75 | 8.50 | +2.50 | 52 µs |"
