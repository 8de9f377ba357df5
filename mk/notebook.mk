# JupyterLab on the project's environment, for notebooks/ (docs/client.md). The tests run
# the notebook headless (nbclient, in dev.txt); this adds the browser UI, pinned in
# requirements/notebook.txt.
.PHONY: notebook

NOTEBOOK_ARGS ?=  # e.g. NOTEBOOK_ARGS="--port 8890"
# Jupyter refuses to run as root unless told; these machines (and containers) run as root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

$(VENV)/.notebook: $(VENV)/.dev requirements/notebook.txt requirements/lock.txt
	$(PIP) install -q -r requirements/notebook.txt -c requirements/lock.txt
	@touch $@

notebook: $(VENV)/.notebook ## JupyterLab on notebooks/, loopback only (start `make serve` first)
	$(VENV)/bin/jupyter lab --no-browser --ServerApp.ip=127.0.0.1 \
		--ServerApp.root_dir=notebooks $(AS_ROOT) $(NOTEBOOK_ARGS)
