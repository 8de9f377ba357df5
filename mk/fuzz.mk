# Seeded fuzzing of the three models (fuzz/): malformed requests beside valid traffic.
.PHONY: fuzz

FUZZ_ARGS ?=  # e.g. FUZZ_ARGS="--count 2000 --seed 7" or "--reuse .run" (against `make serve`)

fuzz: install-dev archive ## 10,000 seeded malformed requests; non-zero on any 5xx, restart or timeout
	$(PY) -m fuzz $(FUZZ_ARGS)
