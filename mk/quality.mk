# Static checks.
#
#   make lint          ruff check (Python) + cython-lint (.pyx/.pxd)
#   make typecheck     mypy --strict fasthttp and its pytest plugin, and the typed handler in tests/typing_example.py

QUALITY_TOOLS := $(VENV)/.quality-tools

.PHONY: lint typecheck

$(QUALITY_TOOLS): $(VENV)/.installed mk/quality.mk
	$(PY) -m pip install -q "mypy>=1.10,<2" "ruff>=0.5" "cython-lint>=0.16" pycodestyle
	touch $@

typecheck: $(QUALITY_TOOLS)
	$(PY) -m mypy --strict fasthttp _fasthttp_pytestplugin.py
	$(PY) -m mypy --strict --follow-imports=silent tests/typing_example.py  # as a user sees fasthttp

lint: $(QUALITY_TOOLS)
	$(PY) -m ruff check .
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/cython-lint fasthttp/*.pyx fasthttp/*.pxd
