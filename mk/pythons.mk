# Every supported Python (issue 15): our tests and CPython's own suites on each.
#
#   make test-pythons   for each of PYTHONS, at once (tools/test_pythons.py):
#                       venv + build + `import fasthttp` (C path); our pytest suite
#                       on the C path and the pure path; CPython's test_httpservers,
#                       test_wsgiref and test_xmlrpc on stock http.server and on
#                       fasthttp.server (C, pure), ours passing all stock passes;
#                       as root, those suites and tests/test_cgi.py again as the system
#                       user fasthttp-test (CPython skips its CGI tests as root).
#                       A table per Python; ~8 min on 2 cores.
#                       A pytest test that fails is run again alone: one that passes
#                       then is named as flaky in the table, one that fails again fails.
#   make sid-tree       build (once) the Debian sid tree the SID_PYTHONS come from
#
# 3.10-3.13 come from pyenv (PYENV_ROOT); 3.14 and 3.15, which Debian 12 lacks, from
# Debian unstable in a chroot at SID_DIR (tools/sid_tree.py: debootstrap once, needs
# root; reused while it has every package asked for). A Python that cannot be had
# is an error, never a skip: narrow the run with PYTHONS="3.12 3.13" instead.

PYTHONS      ?= 3.10 3.11 3.12 3.13 3.14 3.15
SID_PYTHONS  ?= 3.14 3.15
SID_DIR      ?= /var/cache/fasthttp-sid
SID_MIRROR   ?= http://deb.debian.org/debian
PYTHONS_JOBS ?= 6
PYTHONS_ARGS ?=

.PHONY: test-pythons sid-tree

# The orchestration runs on any Python 3.9+ (the host's); each tested Python
# gets its own venv and build directory.
test-pythons:
	$(PYTHON) tools/test_pythons.py --pythons "$(PYTHONS)" --sid "$(SID_PYTHONS)" \
	    --sid-dir $(SID_DIR) --sid-mirror $(SID_MIRROR) --jobs $(PYTHONS_JOBS) $(PYTHONS_ARGS)

sid-tree:
	$(PYTHON) tools/sid_tree.py --dir $(SID_DIR) --mirror $(SID_MIRROR) \
	    $(foreach v,$(SID_PYTHONS),--python $(v))
