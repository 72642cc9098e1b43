# Soak and memory (issue "Hardening" item 5, issue "Speed" goal 5).
#
#   make soak          bench/soak.py: one fasthttp server, 200,000 mixed requests (keep-alive,
#                      pipelined, one connection each, invalid, cut short); RSS and fds flat,
#                      nothing missing. SOAK_SERVER=loop for LoopHTTPServer.
#   make soak-smoke    the same, 5,000 requests (both servers)
#   make memory        bench/memory.py: RSS with 1,000 idle keep-alive connections, stdlib vs
#                      fasthttp (threading, loop), and RSS over 200,000 requests
#
# Everything runs on 127.0.0.1, each run is capped (SOAK_MAX_SECONDS), and every process
# started is ended by its PID.

SOAK_SERVER      ?= threading
SOAK_REQUESTS    ?= 200000
SOAK_MAX_SECONDS ?= 600
SOAK_ARGS        ?=
MEMORY_ARGS      ?=

.PHONY: soak soak-smoke memory

soak: build
	$(PY) bench/soak.py --server $(SOAK_SERVER) --requests $(SOAK_REQUESTS) \
	    --max-seconds $(SOAK_MAX_SECONDS) $(SOAK_ARGS)

soak-smoke: build
	$(PY) bench/soak.py --server threading --requests 5000 --max-seconds 120 $(SOAK_ARGS)
	$(PY) bench/soak.py --server loop --requests 5000 --max-seconds 120 $(SOAK_ARGS)

memory: build
	$(PY) bench/memory.py $(MEMORY_ARGS)
