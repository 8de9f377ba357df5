# Load tests (Locust, SLO-gated) and the side-by-side benchmark; docs/load-and-bench.md.
.PHONY: load load-ui bench bench-sweep bench-tools

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

bench: install-dev bench-tools archive ## limit vs TorchServe (tuned, stock) vs Flask (~13 min)
	$(PY) -m bench.run $(BENCH_ARGS)

bench-sweep: install-dev bench-tools archive ## sweep TorchServe batch, delay, workers, threads (~20 min)
	$(PY) -m bench.sweep $(BENCH_ARGS)
