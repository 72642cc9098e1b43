# Serving a directory: nginx (if installed) vs python -m http.server vs python -m fasthttp,
# 4 KB file closed/keep-alive and a 200 MB download (bench/static_load.py; ~6 min).
.PHONY: bench-static
bench-static: build
	$(PY) bench/static_load.py --loop
