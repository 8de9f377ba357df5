# Seeded fuzzing of the three models (fuzz/): malformed requests beside valid traffic.
.PHONY: fuzz

# e.g. FUZZ_ARGS="--seed 7 --count 2000", "--reuse .run" (the `make serve` server),
# "--case 1234" (one case again), "--json fuzz.json"
FUZZ_ARGS ?=

fuzz: install-dev archive ## 10,000 seeded malformed requests beside valid ones; fails on any 5xx, hang or restart
	$(PY) -m fuzz $(FUZZ_ARGS)
