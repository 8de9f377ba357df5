# The client, its CLI and the real clients (docs/client.md): newman for the Postman
# collection (pinned in postman/package-lock.json), the collection against `make serve`,
# and the tests of this topic alone.
.PHONY: postman-deps postman test-clients

NPM ?= npm
NEWMAN := postman/node_modules/.bin/newman
CLIENT_TESTS := tests/unit/test_client_*.py tests/integration/test_client.py \
	tests/integration/test_cli.py tests/integration/test_readme_curl.py \
	tests/integration/test_notebook.py tests/integration/test_postman.py \
	tests/integration/management

$(NEWMAN): postman/package.json postman/package-lock.json
	@command -v $(NPM) >/dev/null || { echo "npm is needed to run the Postman collection: install Node.js 20+" >&2; exit 1; }
	cd postman && $(NPM) ci --no-audit --no-fund
	@touch $@

postman-deps: $(NEWMAN) ## install newman (npm ci, pinned) for the Postman collection

postman: $(NEWMAN) ## run the Postman collection against `make serve` with newman
	$(NEWMAN) run postman/collection.json --working-dir . \
		--env-var "token=$$($(PY) -m server token)" \
		--env-var "managementToken=$$($(PY) -m server token --management)"

test-clients: install-dev archive ## client, CLI, management, README-curl, notebook and Postman tests
	$(PY) -m pytest $(CLIENT_TESTS)
