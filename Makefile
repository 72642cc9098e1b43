# fasthttp developer tasks. Everything installs itself into .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8000
DIR    ?= .

.PHONY: venv build build-ext test test-deps test-cpython bench load serve clean

# What building needs, and no more (make serve stops there).
$(VENV)/.build-tools: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "setuptools>=77" "Cython>=3"
	touch $@

# The test and benchmark tools besides.
venv: $(VENV)/.installed
$(VENV)/.installed: $(VENV)/.build-tools
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -U wheel pytest hypothesis httptools pytest-benchmark
	touch $@

# The C extension modules, built in place (a failed build is an error).
# setup.py's build_ext compiles only what changed (a no-change run compiles nothing).
build-ext: $(VENV)/.build-tools
	$(PY) setup.py -q build_ext --inplace
build: venv build-ext

# The README's test command: the C parser's unit test; on .venv's Python, the
# C path with interpreter internals off (FASTHTTP_PUBLIC_API=1: the path newer
# CPythons take); then every supported Python, 3.10 to 3.15 (test-pythons,
# mk/pythons.mk): our tests on the C and the pure-Python path, and CPython's
# own http.server suites on stock and on fasthttp, as root and unprivileged.
# PYTHONS="3.12 3.13" narrows it (3.14 and 3.15 need root: a Debian chroot).
test: build test-deps
	$(MAKE) --no-print-directory test-c
	FASTHTTP_PUBLIC_API=1 FASTHTTP_EXPECT_ACCELERATED=1 $(PY) -m pytest -q -p no:randomly \
	    tests/test_api.py tests/test_wire_vs_stdlib.py tests/test_handler_vs_stdlib.py
	PYTHONPATH=. FASTHTTP_PUBLIC_API=1 $(PY) tests/cpython_suite.py
	$(MAKE) --no-print-directory test-pythons

# System packages the tests use: nginx, for the reverse-proxy test. Installed
# where we can (root with apt-get); elsewhere tests/test_behind_nginx.py skips, saying so.
test-deps:
	@command -v nginx >/dev/null 2>&1 || command -v /usr/sbin/nginx >/dev/null 2>&1 || \
	{ if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing nginx-light for tests/test_behind_nginx.py"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -qq nginx-light >/dev/null || echo "note: nginx-light did not install"; \
	  else echo "note: no nginx and no apt-get as root: tests/test_behind_nginx.py will skip"; fi; }

# CPython's suites on .venv's Python alone (test-pythons runs them on every
# Python, against stock): C path, pure path, C path on public API only.
test-cpython: build
	PYTHONPATH=. $(PY) tests/cpython_suite.py
	PYTHONPATH=. FASTHTTP_PURE=1 $(PY) tests/cpython_suite.py
	PYTHONPATH=. FASTHTTP_PUBLIC_API=1 $(PY) tests/cpython_suite.py

bench: build
	mkdir -p bench/results
	# Calibrated to 100x the timer's resolution: a 1 us call timed one at a
	# time would measure the timer as much as the call.
	$(PY) -m pytest bench/ -q --benchmark-only --benchmark-warmup=on \
	    --benchmark-calibration-precision=100 --benchmark-json bench/results/latest.json
	$(PY) bench/report.py bench/results/latest.json

# End-to-end load test: each server in its own process on 127.0.0.1, driven by
# wrk; prints the table and draws bench/results/load.png (the README's chart).
load: build
	$(PY) -m pip install -q uvicorn uvloop httptools granian matplotlib
	$(PY) bench/load.py --install-wrk --chart bench/results/load.png

# Serve DIR (default: here) on PORT, like `python -m http.server`.
serve: build-ext
	$(PY) -m fasthttp $(PORT) --directory $(DIR)

clean:
	rm -rf build dist *.egg-info fasthttp/*.so fasthttp/*.c .pytest_cache

# Further targets, one file per concern: fuzzing/sanitizers, distribution, ...
-include mk/*.mk
