# The front door (HAProxy, Debian's package; server/door.py, docs/front-door.md): every server
# this project starts runs behind it, so `make install` brings it.
.PHONY: install-haproxy door-cost

install-haproxy: ## install HAProxy (apt) if missing: the front door of every server; needs root
	@if ! command -v haproxy >/dev/null && [ ! -x /usr/sbin/haproxy ]; then \
		command -v apt-get >/dev/null || { echo "install HAProxy 2.6+ (no apt-get here): brew install haproxy, dnf install haproxy" >&2; exit 1; }; \
		[ "$$(id -u)" = 0 ] || { echo "HAProxy is missing: sudo apt-get install haproxy (or run make as root)" >&2; exit 1; }; \
		echo "installing haproxy"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	fi

# What the door costs beside a bare HAProxy hop (forwarding only) and TorchServe direct, on
# one server per model, rounds in turn (bench/door_cost.py; docs/load-and-bench.md).
door-cost: install-dev bench-tools archive install-haproxy ## the door's cost vs a bare proxy hop, per model (~12 min)
	$(PY) -m bench.door_cost $(DOOR_COST_ARGS)
