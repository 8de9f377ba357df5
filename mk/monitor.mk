# Monitoring (docs/metrics.md): Prometheus and the management exporter beside `make serve`,
# the alert rules' tests (promtool) and a headless-browser screenshot of a graph.
.PHONY: monitor monitor-stop monitor-screenshot install-monitor install-chromium

# promtool is in Debian's prometheus package; tests/component/test_monitor.py needs it, so
# `make test` and `make test-component` install it first (as root, with apt-get).
test test-component: install-monitor

install-monitor: ## install Prometheus and promtool (apt) if missing, for make monitor and the tests; needs root
	@if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then \
		command -v apt-get >/dev/null || { echo "install Prometheus (promtool) yourself: no apt-get here" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "make install-monitor needs root (apt-get)" >&2; exit 1; }; \
		echo "installing prometheus (promtool)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	fi

install-chromium: ## install chromium (apt) if missing, for make monitor-screenshot; needs root
	@if ! command -v chromium >/dev/null; then \
		command -v apt-get >/dev/null || { echo "install chromium yourself: no apt-get here" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "make install-chromium needs root (apt-get)" >&2; exit 1; }; \
		echo "installing chromium"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

monitor: install install-monitor ## Prometheus (:9090) + exporter (:9181) scraping the `make serve` server
	@$(PY) -m server status >/dev/null || { echo "no server: run make serve first" >&2; exit 1; }
	$(PY) -m monitor.stack start

monitor-screenshot: install-chromium ## send some traffic, then a PNG of a Prometheus graph with data
	$(PY) -m monitor.stack screenshot

monitor-stop: ## stop what make monitor started
	$(PY) -m monitor.stack stop
