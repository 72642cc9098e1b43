# Existing users of http.server, stock vs after fasthttp.install() (issue 11 item 1):
# werkzeug's dev server (plain and threaded), wsgiref, xmlrpc.server, prometheus_client
# and the CLI's static files, each in its own process, driven by wrk.
#
#   make users-bench         bench/existing_users.py: 3 runs x 3 s each, table + JSON in
#                            bench/results/existing_users.json (~5 min)
#   make users-bench USERS_ARGS=--quick      1 run x 1 s (~40 s), a smoke test
#   make users-bench USERS_ARGS="--profile werkzeug"   py-spy on both impls of one server
#
# Installs the peers (werkzeug, prometheus_client, py-spy) into .venv and wrk if missing.

USERS_ARGS  ?=
USERS_PEERS := werkzeug prometheus_client py-spy

.PHONY: users-bench users-peers

users-peers: venv
	$(PY) -m pip install -q $(USERS_PEERS)
	@command -v wrk >/dev/null || apt-get install -y wrk || \
	    echo "wrk not installed: the Python client will be used"

users-bench: build users-peers
	$(PY) bench/existing_users.py $(USERS_ARGS)
