# Resilience under load (resilience/; docs/client.md "When a worker dies"): `make chaos` kills
# a worker of each model, then the frontend, under load; `make soak` holds 65% of capacity
# for SOAK_MINUTES. Each starts a TorchServe of its own on free loopback ports, prints a
# report, writes it as JSON under build/resilience/ and fails when a goal is missed.
.PHONY: chaos soak

SOAK_MINUTES ?= 10
CHAOS_ARGS ?=  # e.g. CHAOS_ARGS="--models cancer --no-frontend"
SOAK_ARGS ?=   # e.g. SOAK_ARGS="--rates digits=120 cancer=200 minilm=60"

chaos: install archive ## kill -9 a worker of each model, then the frontend, under load (~3 min)
	$(PY) -m resilience.chaos $(CHAOS_ARGS)

soak: install archive ## SOAK_MINUTES (10) at 65% of capacity: RSS growth, errors, p99 drift
	$(PY) -m resilience.soak --minutes $(SOAK_MINUTES) $(SOAK_ARGS)
