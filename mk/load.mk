# Load tests (Locust, SLO-gated) and the side-by-side benchmark; docs/load-and-bench.md.
.PHONY: load load-ui load-tools bench bench-sweep bench-tools

# The load and benchmark tools, pinned here until they join requirements/ (see the docs).
LOAD_PINS := locust==2.47.0 flask==3.1.3 gunicorn==27.0.1 matplotlib==3.11.2
LOCUST := $(VENV)/bin/locust
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
LOAD_ARGS ?=   # extra Locust options, e.g. LOAD_ARGS="--run-time 5m --users 60"
BENCH_ARGS ?=  # e.g. BENCH_ARGS="--models minilm --levels 1 32 --seconds 4"

$(VENV)/.load: $(VENV)/.dev
	$(PIP) install -q $(LOAD_PINS) -c requirements/lock.txt
	@touch $@

load-tools: $(VENV)/.load ## install Locust, Flask, gunicorn and matplotlib into .venv

load: load-tools ## 60 s Locust mix against `make serve`; non-zero on any SLO breach
	$(LOCUST) --config loadtests/locust.conf --headless $(LOAD_ARGS)

load-ui: load-tools ## Locust's web UI on http://127.0.0.1:8089 against `make serve`
	$(LOCUST) --config loadtests/locust.conf $(LOAD_ARGS)

bench-tools: ## install wrk, the benchmark's load generator (apt), if missing
	@command -v wrk >/dev/null || { \
		command -v apt-get >/dev/null || { echo "install wrk: https://github.com/wg/wrk" >&2; exit 1; }; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk; }

bench: load-tools bench-tools archive ## limit vs TorchServe (tuned, stock) vs Flask (~10 min)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-sweep: load-tools bench-tools archive ## sweep TorchServe batch, delay, workers, threads
	$(PY) -m bench.sweep $(BENCH_ARGS)
