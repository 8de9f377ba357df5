# Batch scoring into a database (batch/; docs/batch.md). `make batch MODEL=cancer SOURCE=rows.csv`
# scores with the local engine into sqlite:///batch.db; ENGINE=server calls the TorchServe
# of `make serve`, DB= takes any SQLAlchemy URL (PostgreSQL for shared use).
.PHONY: batch install-postgres

# Debian's server binaries; the batch tests start a private cluster with them on loopback.
POSTGRES_BINARIES := /usr/lib/postgresql/*/bin/initdb

batch: archive ## score a source into a database: MODEL=cancer SOURCE=rows.csv [ENGINE=server DB=url BATCH_ARGS=..]
	@[ -n "$(MODEL)" ] && [ -n "$(SOURCE)" ] || { echo "usage: make batch MODEL=cancer|digits|minilm SOURCE=PATH [ENGINE=local|server] [DB=URL] [BATCH_ARGS='--id-column id']" >&2; exit 2; }
	$(PY) -m batch $(MODEL) '$(SOURCE)' $(if $(ENGINE),--engine $(ENGINE)) $(if $(DB),--db '$(DB)') $(BATCH_ARGS)

install-postgres: ## install PostgreSQL (apt) if missing, for the batch tests; needs root
	@if ! ls $(POSTGRES_BINARIES) >/dev/null 2>&1; then \
		command -v apt-get >/dev/null || { echo "install PostgreSQL's server (no apt-get here)" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "make install-postgres needs root (apt-get)" >&2; exit 1; }; \
		echo "installing postgresql"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi
