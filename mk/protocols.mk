# Standard protocols (docs/protocols.md): KServe v2/v1 in the handlers, per-model OpenAPI 3.1
# documents generated from the archives' metadata, the page to try each model, and the
# clients nobody here wrote (tritonclient, the kserve SDK) in their own venv.
.PHONY: openapi schemathesis clients-venv protocol-tests

# tritonclient[http] pins greenlet<3.4 (locust's gevent needs 3.5) and kserve pulls grpcio,
# protobuf and pandas 2: a venv of their own, pinned in requirements/clients*.txt.
CLIENTS_VENV := build/venv-clients
SCHEMATHESIS_EXAMPLES ?= 300  # per operation, for `make schemathesis` (the tests use 8)

$(CLIENTS_VENV)/.installed: requirements/clients.txt requirements/clients-lock.txt
	$(PYTHON) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install -q -r requirements/clients.txt -c requirements/clients-lock.txt
	@touch $@

clients-venv: $(CLIENTS_VENV)/.installed ## the venv of tritonclient and the kserve SDK, for the protocol tests

# `make test` runs the protocol clients' tests, so it makes their venv first.
test: $(CLIENTS_VENV)/.installed

openapi: archive install-dev ## write each model's OpenAPI 3.1 document to build/openapi/<model>.json
	$(PY) -m contracts.openapi --out build/openapi

schemathesis: install-dev archive install-haproxy ## schemathesis on every model's OpenAPI document, SCHEMATHESIS_EXAMPLES per operation
	SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) $(PY) -m pytest tests/integration/test_openapi.py -k schemathesis -v

protocol-tests: install-dev archive install-haproxy clients-venv install-chromium ## only the protocol, OpenAPI and page tests
	$(PY) -m pytest tests/unit/test_protocols.py tests/unit/test_openapi_document.py tests/integration/test_protocols_clients.py tests/integration/test_openapi.py tests/integration/test_model_page.py
