# The engine against its goals and its peers (issue 10), in one run (~16 min on 2 cores).
#
#   make bench-engine           all four below, in order
#   make bench-engine-load      bench/load.py: wrk -t1 -c1/-c32, 3 rounds x 5 s; nginx (one worker,
#                               return 200), uvicorn+httptools(+uvloop), granian (WSGI), fasthttp
#                               (loop and threading), http.server (tuned and as-is); table + load.png
#   make bench-engine-pipeline  bench/pipeline.py: 20,000 pipelined requests on one connection,
#                               server CPU/request vs the tuned stdlib, strace -c syscalls/request
#   make bench-engine-memory    bench/memory.py: 5,000 idle keep-alive connections, RSS per
#                               connection, a new client's latency meanwhile
#   make bench-engine-goals     bench/engine_goals.py (~4 min): handlers sleeping 50 ms beside
#                               wrk -c32, one sleeping 1 s beside a probe, a 1 ms CPU-bound
#                               handler, 1,024 silent connections; each goal met or not.
#                               ENGINE_GOALS_ARGS="--before DIR" adds an older checkout's
#                               ThreadingHTTPServer (built in place) to the CPU-bound case
#
# wrk, nginx-light and strace come from apt-get, uvicorn/uvloop/httptools/granian/matplotlib
# from pip, each only when missing. Everything runs on 127.0.0.1; every process is ended by its PID.

ENGINE_LOAD_ARGS     ?=
ENGINE_PIPELINE_ARGS ?=
ENGINE_MEMORY_ARGS   ?=
ENGINE_GOALS_ARGS    ?=

.PHONY: bench-engine bench-engine-load bench-engine-pipeline bench-engine-memory bench-engine-goals \
        bench-engine-deps

bench-engine: bench-engine-load bench-engine-pipeline bench-engine-memory bench-engine-goals

bench-engine-deps: build
	$(PY) -m pip install -q uvicorn uvloop httptools granian matplotlib
	@command -v strace >/dev/null || apt-get install -y strace || \
	    { apt-get update && apt-get install -y strace; } || echo "no strace: no syscall counts"

bench-engine-load: bench-engine-deps
	$(PY) bench/load.py --install-wrk --install-nginx --markdown \
	    --chart bench/results/load.png $(ENGINE_LOAD_ARGS)

bench-engine-pipeline: bench-engine-deps
	$(PY) bench/pipeline.py $(ENGINE_PIPELINE_ARGS)

bench-engine-memory: build
	$(PY) bench/memory.py --soak-requests 0 $(ENGINE_MEMORY_ARGS)

bench-engine-goals: build
	$(PY) bench/engine_goals.py --install-wrk --markdown $(ENGINE_GOALS_ARGS)
