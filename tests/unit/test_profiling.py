"""The profiling tools' own arithmetic: settings parsing, py-spy stacks, per-thread CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from profiling.one_client import hottest_python, settings_of, thread_cpu


def test_settings_reach_the_model_config_and_its_handler_table() -> None:
    assert settings_of(["maxBatchDelay=1", "handler.torch_threads=2", "batchSize=8"]) == {
        "maxBatchDelay": 1,
        "batchSize": 8,
        "handler": {"torch_threads": 2},
    }


def test_a_function_counts_once_per_sample_whatever_its_depth(tmp_path: Path) -> None:
    raw = tmp_path / "stacks.txt"
    raw.write_text(
        "main (w.py:1);predict (s.py:5);decode (d.py:9) 3\n"
        "main (w.py:1);predict (s.py:5);predict (s.py:7) 1\n"
        "main (w.py:2);recv (p.py:3) 4\n"
    )
    shares = dict(hottest_python(raw))
    assert shares["main (w.py)"] == 1.0
    assert shares["predict (s.py)"] == pytest.approx(0.5)  # 4 of 8 samples, not 5
    assert shares["decode (d.py)"] == pytest.approx(3 / 8)


def test_this_process_threads_show_their_cpu() -> None:
    sum(range(2_000_000))  # some CPU on this thread
    spent = thread_cpu(os.getpid())
    assert spent and all(value >= 0 for value in spent.values())
    assert sum(spent.values()) > 0
