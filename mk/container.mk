# Container image (Dockerfile; docs/container.md). `make image` builds it for real use;
# `make image-test` builds it on this machine, with no registry and no Docker engine, runs
# it and tests it (tests/container).
.PHONY: image image-test container-tools standin-image

IMAGE ?= torchserve-kit:latest
BASE_IMAGE ?= debian:bookworm-slim
# PyTorch's CPU wheels (PyPI's Linux torch is the multi-GB CUDA build).
TORCH_INDEX_URL ?= https://download.pytorch.org/whl/cpu

# image-test: a stand-in for debian:bookworm-slim made with debootstrap, the local torch CPU
# wheel from TORCH_WHEELS when it is there, and this machine's CA bundle for pip.
TEST_IMAGE ?= localhost/torchserve-kit:test
STANDIN_IMAGE ?= localhost/bookworm-slim-standin:latest
DEBIAN_MIRROR ?= # empty: the mirror this machine's apt uses
TORCH_WHEELS ?= /opt/wheels
HOST_CA ?= /etc/ssl/certs/ca-certificates.crt
# Builds and the test container yield the CPU to whatever else runs here (tests, editors).
NICE := nice -n 10

TORCH_ARGS = $(if $(wildcard $(TORCH_WHEELS)/torch-*.whl),\
	-v $(abspath $(TORCH_WHEELS)):/wheels:ro --build-arg TORCH_WHEELS=/wheels --build-arg TORCH_INDEX_URL=,\
	--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL))
CA_ARGS = $(if $(wildcard $(HOST_CA)),-v $(HOST_CA):/host-ca.crt:ro --build-arg PIP_CA_BUNDLE=/host-ca.crt)

image: ## build the container image (docker when its engine answers, else buildah)
	@if docker info >/dev/null 2>&1; then \
		set -x; docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) \
			--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL) -t $(IMAGE) . ; \
	elif command -v buildah >/dev/null; then \
		set -x; $(NICE) buildah bud --format docker --layers --build-arg BASE_IMAGE=$(BASE_IMAGE) \
			--build-arg TORCH_INDEX_URL=$(TORCH_INDEX_URL) -t $(IMAGE) . ; \
	else \
		echo "no container engine: start Docker, or install buildah (make container-tools)" >&2; \
		exit 1; \
	fi

image-test: container-tools standin-image install-dev ## build the image here (buildah) and test the running container
	$(NICE) buildah bud --isolation chroot --format docker --layers \
		--build-arg BASE_IMAGE=$(STANDIN_IMAGE) $(TORCH_ARGS) $(CA_ARGS) -t $(TEST_IMAGE) .
	CONTAINER_IMAGE=$(TEST_IMAGE) $(NICE) $(PY) -m pytest tests/container

container-tools: ## install buildah and debootstrap (apt) if missing; image-test needs root
	@[ "$$(id -u)" = 0 ] || { echo "make image-test needs root: buildah's chroot isolation and debootstrap" >&2; exit 1; }
	@missing=""; for tool in buildah debootstrap; do \
		command -v $$tool >/dev/null || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		command -v apt-get >/dev/null || { echo "install$$missing (no apt-get here)" >&2; exit 1; }; \
		echo "installing$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq$$missing >/dev/null; \
	fi

standin-image: container-tools ## make the local debian:bookworm-slim stand-in (once)
	@buildah inspect --type image $(STANDIN_IMAGE) >/dev/null 2>&1 \
		|| $(NICE) mk/standin-base.sh $(STANDIN_IMAGE) $(DEBIAN_MIRROR)
