# The batch command's `ray` engine (docs/batch.md, "Ray engine"): Ray Data and the `ray` CLI,
# pinned in requirements/ray.txt, installed into .venv on top of the dev tools. The tests,
# the type check and `make batch ENGINE=ray` need it, so it comes with them.
.PHONY: install-ray ray-cluster batch-scale

RAY_CLUSTER_ARGS ?=  # e.g. RAY_CLUSTER_ARGS="--workers 2 --cpus 2"
BATCH_SCALE_ARGS ?=  # e.g. BATCH_SCALE_ARGS="--models cancer --size 0.2"

$(VENV)/.ray: $(VENV)/.dev requirements/ray.txt requirements/lock.txt
	$(PIP) install -q -r requirements/ray.txt -c requirements/lock.txt
	@touch $@

install-ray: $(VENV)/.ray ## add Ray (Ray Data, the ray CLI) for `--engine ray`

test test-unit test-component lint batch: $(VENV)/.ray

ray-cluster: $(VENV)/.ray archive ## a Ray head + 1 worker node on loopback, for `--engine ray --address`; Ctrl-C stops it
	$(PY) -m batch.ray_cluster $(RAY_CLUSTER_ARGS)

# Heavy: run it alone (it starts a cluster and scores ~100k rows, 2k images, 2k texts 3 times).
batch-scale: $(VENV)/.ray archive ## rows/s per model: local engine vs ray engine with 1 and 2 actors (~6 min)
	$(PY) -m batch.ray_scale $(BATCH_SCALE_ARGS)
