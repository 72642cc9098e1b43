# Hardening: fuzzing, sanitizers, valgrind (issue "Hardening", items 4 and 5).
#
#   make test-c        C unit test of the parser, gcc -Wall -Wextra -Werror + ASan/UBSan
#   make valgrind      the C unit test and tests/test_parser.py under valgrind memcheck
#   make test-asan     the whole pytest suite on an ASan/UBSan build of the extension
#   make fuzz          libFuzzer on csrc/fuzz_parser.c for FUZZ_SECONDS
#   make fuzz-python   atheris on fuzz/fuzz_request.py (C vs pure) for FUZZ_SECONDS
#   make fuzz-replay   seeds + regressions through both targets once (no fuzzing)
#   make fuzz-seeds    rewrite fuzz/corpus_*/ from tests/data/requests and fuzz/regressions
#   make hardening-tools   apt/pip installs the targets above need (clang, valgrind, atheris)
#
# Generated files live in fuzz/work/ (ignored by git): binaries, the growing
# corpora, crash artifacts, logs. Fuzzers run under `nice -n $(FUZZ_NICE)`.

FUZZ_SECONDS ?= 60
FUZZ_NICE    ?= 10
FUZZ_MAX_LEN ?= 70000
FUZZ_PY_MAX_LEN ?= 20000
FUZZ_JOBS_FLAGS ?=
FUZZ_WORK    := fuzz/work
FUZZ_BIN     := $(FUZZ_WORK)/bin
CLANG        ?= $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang)
HARDEN_CC    ?= gcc

PARSER_SRC   := csrc/fh_parser.c csrc/fh_parser.h
WARN_FLAGS   := -std=c99 -Wall -Wextra -Werror
PARSER_WARN  := $(WARN_FLAGS)
SAN_FLAGS    := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: test-c valgrind test-asan fuzz fuzz-python fuzz-replay fuzz-seeds \
        hardening-tools fuzz-clean

# -- tools -------------------------------------------------------------------
hardening-tools: venv
	@command -v $(CLANG) >/dev/null 2>&1 && command -v valgrind >/dev/null 2>&1 || \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        clang libclang-rt-dev llvm valgrind 2>/dev/null || \
	      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        clang libclang-rt-14-dev llvm valgrind; }
	@$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install -q atheris

# -- C unit test ---------------------------------------------------------------
$(FUZZ_BIN)/test_parser_san: csrc/test_parser.c $(PARSER_SRC)
	@mkdir -p $(FUZZ_BIN)
	$(HARDEN_CC) -g -O1 $(PARSER_WARN) $(SAN_FLAGS) -Icsrc -c csrc/fh_parser.c -o $@.parser.o
	$(HARDEN_CC) -g -O1 $(WARN_FLAGS) $(SAN_FLAGS) -Icsrc -c csrc/test_parser.c -o $@.test.o
	$(HARDEN_CC) $(SAN_FLAGS) $@.test.o $@.parser.o -o $@

$(FUZZ_BIN)/test_parser_plain: csrc/test_parser.c $(PARSER_SRC)
	@mkdir -p $(FUZZ_BIN)
	$(HARDEN_CC) -g -O1 $(PARSER_WARN) -Icsrc -c csrc/fh_parser.c -o $@.parser.o
	$(HARDEN_CC) -g -O1 $(WARN_FLAGS) -Icsrc -c csrc/test_parser.c -o $@.test.o
	$(HARDEN_CC) $@.test.o $@.parser.o -o $@

test-c: $(FUZZ_BIN)/test_parser_san
	UBSAN_OPTIONS=halt_on_error=1,print_stacktrace=1 $(FUZZ_BIN)/test_parser_san

# Standalone replay driver of the fuzz target (no libFuzzer), gcc + sanitizers.
$(FUZZ_BIN)/fuzz_replay_san: csrc/fuzz_parser.c $(PARSER_SRC)
	@mkdir -p $(FUZZ_BIN)
	$(HARDEN_CC) -g -O1 -std=c99 -DFUZZ_STANDALONE $(SAN_FLAGS) -Icsrc \
	    csrc/fuzz_parser.c csrc/fh_parser.c -o $@

$(FUZZ_BIN)/fuzz_replay_plain: csrc/fuzz_parser.c $(PARSER_SRC)
	@mkdir -p $(FUZZ_BIN)
	$(HARDEN_CC) -g -O1 -std=c99 -DFUZZ_STANDALONE -Icsrc \
	    csrc/fuzz_parser.c csrc/fh_parser.c -o $@

# -- valgrind ------------------------------------------------------------------
# 1. the C unit test and the seed corpus through the fuzz target's checks,
#    built without sanitizers, full leak check;
# 2. tests/test_parser.py (extension built normally) under memcheck, with
#    PYTHONMALLOC=malloc so every Python allocation is tracked. Leak checking
#    is off there (CPython keeps its interned objects to exit) and the
#    hypothesis properties are skipped to keep the run to a few minutes.
#    The interpreter has memcheck noise of its own (uninitialised-value
#    reports in int.from_bytes and friends at import, an AVX2 wmemcmp
#    overread), so instead of --error-exitcode the log is judged by
#    fuzz/valgrind_report.py: any error record with a frame in our extension
#    fails the target (no suppression file tied to one interpreter build).
VALGRIND       ?= valgrind
VALGRIND_FLAGS ?= --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect
VALGRIND_PYTEST ?= tests/test_parser.py -q -p no:cacheprovider -k "not hypothesis and not property"

valgrind: $(FUZZ_BIN)/test_parser_plain $(FUZZ_BIN)/fuzz_replay_plain build
	$(VALGRIND) $(VALGRIND_FLAGS) $(FUZZ_BIN)/test_parser_plain
	$(VALGRIND) $(VALGRIND_FLAGS) -q $(FUZZ_BIN)/fuzz_replay_plain fuzz/corpus_parser/*
	@mkdir -p $(FUZZ_WORK); rm -f $(FUZZ_WORK)/valgrind-python.*
	PYTHONMALLOC=malloc $(VALGRIND) --leak-check=no --num-callers=30 \
	    --log-file=$(FUZZ_WORK)/valgrind-python.%p.log \
	    $(PY) -m pytest $(VALGRIND_PYTEST); \
	status=$$?; cat $(FUZZ_WORK)/valgrind-python.*.log > $(FUZZ_WORK)/valgrind-python.log; \
	rm -f $(FUZZ_WORK)/valgrind-python.*.log; \
	python3 fuzz/valgrind_report.py $(FUZZ_WORK)/valgrind-python.log && exit $$status

# -- the test suite on an ASan/UBSan extension ---------------------------------
# gcc's sanitizers, not clang's: the extension is loaded into the system's
# gcc-built CPython, and the runtime must be preloaded (the interpreter is not
# instrumented); gcc's libasan matches the compiler setup.py uses, whereas
# clang's runtime with a gcc-built interpreter and gcc-compiled objects can
# disagree (interceptor and ABI mismatches). Leak detection is off: CPython
# does not free everything at exit. Reports go to files too (log_path), so a
# report from a subprocess or one a test swallowed still fails the target.
# The extension is rebuilt normally at the end, whatever the outcome.
ASAN_LIB  = $(shell $(HARDEN_CC) -print-file-name=libasan.so)
# The interpreter that runs setup.py (any with Cython and a setuptools that
# reads pyproject.toml); pytest runs on $(PY).
SETUP_PY ?= $(PY)
ASAN_LOGS := $(FUZZ_WORK)/asan-logs

# Not meaningful under ASan: the soak smoke's RSS bound (ASan's allocator keeps
# quarantined memory), and tests that spawn curl (LD_PRELOAD reaches it too).
ASAN_DESELECT ?= -k "not soak_smoke and not curl and not test_https"

test-asan: venv
	@rm -rf $(ASAN_LOGS); mkdir -p $(ASAN_LOGS)
	FASTHTTP_REQUIRE_EXTENSION=1 CC=$(HARDEN_CC) \
	    FASTHTTP_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer" \
	    $(SETUP_PY) setup.py -q build_ext --inplace --force --build-temp build/asan
	LD_PRELOAD=$(ASAN_LIB) \
	    ASAN_OPTIONS=detect_leaks=0,abort_on_error=1,log_path=$(CURDIR)/$(ASAN_LOGS)/asan \
	    UBSAN_OPTIONS=halt_on_error=1,print_stacktrace=1,log_path=$(CURDIR)/$(ASAN_LOGS)/ubsan \
	    $(PY) -m pytest tests -q -p no:cacheprovider $(ASAN_DESELECT); \
	status=$$?; \
	FASTHTTP_REQUIRE_EXTENSION=1 $(SETUP_PY) setup.py -q build_ext --inplace --force; \
	if ls $(ASAN_LOGS)/* >/dev/null 2>&1; then \
	    echo "test-asan: sanitizer reports:"; cat $(ASAN_LOGS)/*; exit 1; fi; \
	echo "test-asan: pytest exit $$status, no sanitizer report"; exit $$status

# -- fuzzing -------------------------------------------------------------------
$(FUZZ_BIN)/fuzz_parser: csrc/fuzz_parser.c $(PARSER_SRC)
	@mkdir -p $(FUZZ_BIN)
	$(CLANG) -g -O1 -std=c99 -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=all -Icsrc csrc/fuzz_parser.c csrc/fh_parser.c -o $@

fuzz-seeds:
	python3 fuzz/make_seeds.py

# libFuzzer's closing lines: the last status line (cov, ft, corp, exec/s) and
# the stat:: block (executions, new units, peak RSS).
fuzz: $(FUZZ_BIN)/fuzz_parser
	@mkdir -p $(FUZZ_WORK)/corpus_parser $(FUZZ_WORK)/artifacts
	nice -n $(FUZZ_NICE) $(FUZZ_BIN)/fuzz_parser -max_len=$(FUZZ_MAX_LEN) \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 $(FUZZ_JOBS_FLAGS) \
	    -artifact_prefix=$(FUZZ_WORK)/artifacts/ \
	    $(FUZZ_WORK)/corpus_parser fuzz/corpus_parser fuzz/regressions \
	    > $(FUZZ_WORK)/fuzz_parser.log 2>&1; \
	status=$$?; \
	grep -E "^#[0-9]+.*(DONE|pulse|INITED)" $(FUZZ_WORK)/fuzz_parser.log | tail -2; \
	grep -E "^stat::|ERROR|invariant|SUMMARY" $(FUZZ_WORK)/fuzz_parser.log; \
	echo "corpus: $$(ls $(FUZZ_WORK)/corpus_parser | wc -l) files; log: $(FUZZ_WORK)/fuzz_parser.log"; \
	exit $$status

fuzz-python: build
	@$(PY) -c "import atheris" 2>/dev/null || $(PY) -m pip install -q atheris
	@mkdir -p $(FUZZ_WORK)/corpus_python $(FUZZ_WORK)/artifacts
	nice -n $(FUZZ_NICE) $(PY) fuzz/fuzz_request.py -max_len=$(FUZZ_PY_MAX_LEN) \
	    -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=30 \
	    -artifact_prefix=$(FUZZ_WORK)/artifacts/python- \
	    $(FUZZ_WORK)/corpus_python fuzz/corpus_python \
	    > $(FUZZ_WORK)/fuzz_python.log 2>&1; \
	status=$$?; \
	grep -E "^#[0-9]+.*(DONE|pulse|INITED)" $(FUZZ_WORK)/fuzz_python.log | tail -2; \
	grep -E "^stat::|Error|FuzzFailure|Traceback" $(FUZZ_WORK)/fuzz_python.log | head -20; \
	echo "corpus: $$(ls $(FUZZ_WORK)/corpus_python | wc -l) files; log: $(FUZZ_WORK)/fuzz_python.log"; \
	exit $$status

fuzz-replay: $(FUZZ_BIN)/fuzz_replay_san build
	UBSAN_OPTIONS=halt_on_error=1,print_stacktrace=1 $(FUZZ_BIN)/fuzz_replay_san \
	    fuzz/corpus_parser/* $$(ls fuzz/regressions/parser_* 2>/dev/null)
	$(PY) fuzz/fuzz_request.py fuzz/corpus_python/* \
	    $$(ls fuzz/regressions/python_* 2>/dev/null) > $(FUZZ_WORK)/replay_python.log 2>&1 || \
	    { tail -30 $(FUZZ_WORK)/replay_python.log; exit 1; }
	@echo "fuzz-replay: python corpus replayed, no failure"

fuzz-clean:
	rm -rf $(FUZZ_WORK)
