# Load tests (Locust, SLO-gated) and the side-by-side benchmark; docs/load-and-bench.md.
.PHONY: load load-ui bench bench-sweep bench-tools bench-peers

LOCUST := $(VENV)/bin/locust
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOAD_ARGS ?=   # extra Locust options, e.g. LOAD_ARGS="--run-time 5m --users 60"
BENCH_ARGS ?=  # e.g. BENCH_ARGS="--models minilm --levels 1 32 --seconds 4"

# Locust, Flask, gunicorn and matplotlib are pinned in requirements/dev.txt.
load: install-dev ## 60 s Locust mix against `make serve`; non-zero on any SLO breach
	$(LOCUST) --config loadtests/locust.conf --headless $(LOAD_ARGS)

load-ui: install-dev ## Locust's web UI on http://127.0.0.1:8089 against `make serve`
	$(LOCUST) --config loadtests/locust.conf $(LOAD_ARGS)

bench-tools: ## install wrk, the benchmark's load generator (apt), if missing
	@command -v wrk >/dev/null || { \
		command -v apt-get >/dev/null || { echo "install wrk: https://github.com/wg/wrk" >&2; exit 1; }; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }

# The benchmark's peers, each in a venv of its own (pinned in requirements/bench-<peer>*.txt):
# they bring fastapi, starlette, uvicorn, aiohttp and opentelemetry at their own pins.
BENCH_PEERS := litserve bentoml

build/venv-%/.installed: requirements/bench-%.txt requirements/bench-%-lock.txt requirements/runtime.txt
	$(PYTHON) -m venv build/venv-$*
	build/venv-$*/bin/python -m pip install -q -r requirements/bench-$*.txt -c requirements/bench-$*-lock.txt
	@touch $@

bench-peers: $(BENCH_PEERS:%=build/venv-%/.installed) ## the venvs of the benchmark's peers (LitServe, BentoML)

# `make test` checks the peers' answers against TorchServe's (tests/integration/test_bench_peers.py).
test: $(BENCH_PEERS:%=build/venv-%/.installed)

bench: install-dev bench-tools archive bench-peers ## honest limit vs TorchServe (tuned, door, stock), Flask, LitServe, BentoML (~25 min)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-sweep: install-dev bench-tools archive ## sweep TorchServe batch, delay, workers, threads (~20 min)
	$(PY) -m bench.sweep $(BENCH_ARGS)
