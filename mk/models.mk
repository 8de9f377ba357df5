# Per-model archives for the edit loop (docs/client.md): an archive is rebuilt only when a
# file it was built from changed. models.build writes build/deps/<name>.d beside each
# archive it builds into the store (the files its handler, trainer and model import, its
# config), as a compiler's -MMD does; an archive without one yet depends on every model
# source. `make reload MODEL=cancer` then serves the rebuilt archive in `make serve-dev`.
.PHONY: reload

DEPS_DIR ?= build/deps
MODELS := $(ARCHIVES:model_store/%.mar=%)
ALL_MODEL_SOURCES = $(wildcard handlers/*.py contracts/*.py models/*.py config/models/*.yaml)

model_store/%.mar: $(VENV)/.runtime
	$(PY) -m models.build --only $*

$(foreach model,$(MODELS),$(if $(wildcard $(DEPS_DIR)/$(model).d),,\
	$(eval model_store/$(model).mar: $(ALL_MODEL_SOURCES))))
-include $(wildcard $(DEPS_DIR)/*.d)

reload: ## MODEL=NAME: rebuild its archive if a source changed, serve it in `make serve-dev`
	@[ -n "$(MODEL)" ] || { echo "usage: make reload MODEL=$(subst $() ,|,$(MODELS))" >&2; exit 2; }
	@$(MAKE) --no-print-directory model_store/$(MODEL).mar
	$(VENV)/bin/tserve models reload $(MODEL)
