# Log growth per 10,000 requests (bench/lograte.py); figures in docs/load-and-bench.md.
.PHONY: log-rate

LOG_RATE_ARGS ?=  # e.g. LOG_RATE_ARGS="--requests 2000" or "--log-config other.xml"

log-rate: install-dev archive ## bytes the logs grow per 10,000 valid and refused requests (~1 min)
	$(PY) -m bench.lograte $(LOG_RATE_ARGS)
