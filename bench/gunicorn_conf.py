"""gunicorn settings for the Flask contestant: the usual production advice for CPU models.

One sync worker per core (each request holds a worker for its whole model call), one
thread per worker for torch and numpy's BLAS (flask_app sets both), each worker loading the
models itself (no preload: forking after torch has started threads is unsafe). Bind address
from BENCH_FLASK_BIND.
"""

from __future__ import annotations

import os

from server.settings import FLASK_BIND_ENV, HOST

bind = os.environ.get(FLASK_BIND_ENV, f"{HOST}:8000")
workers = os.cpu_count() or 1
worker_class = "sync"
threads = 1
timeout = 120  # s; a model call under a 64-client queue can wait
backlog = 2048  # the benchmark's clients wait in the listen queue, not refused
accesslog = None  # no per-request log line: it would cost the contestant CPU
loglevel = "warning"
