"""Write the seed corpora of the two fuzz targets (run from the repo root).

    python3 fuzz/make_seeds.py [REQUESTS_DIR]

fuzz/corpus_parser/  inputs of csrc/fuzz_parser.c: an 8-byte configuration
                     header (limit mode, limit values, split strategy, split
                     seed: see the comment at the top of fuzz_parser.c), then
                     the request bytes.
fuzz/corpus_python/  inputs of fuzz/fuzz_request.py: one configuration byte
                     (see fuzz_request.py), then the request bytes.

Seeds are the real-world requests in tests/data/requests/*.http (each with
the default configuration and with a few stressing ones) plus hand-written
malformed heads. The files are small and deterministic; the fuzzers' grown
corpora go to fuzz/work/ (not in git).
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUZZ = ROOT / "fuzz"

# cfg[0]: bits 0-1 limit mode, bit 2 headers = whole payload,
#         bits 3-4 split (0 random, 1 lines, 2 bytes, 3 fresh copies)
DEFAULT = bytes(8)
LINES = bytes([0 | 1 << 3, 0, 0, 0, 0, 0, 0, 0])
BYTES = bytes([0 | 2 << 3, 0, 0, 0, 0, 0, 1, 2])
TINY = bytes([1 | 0 << 3, 20, 4, 60, 0, 0, 3, 4])       # max_line 20, 4 lines, max_head 30
TINY_FRESH = bytes([1 | 3 << 3, 33, 6, 1, 0, 0, 5, 6])  # max_line 33, 6 lines, no max_head
MEDIUM = bytes([2 | 1 << 3, 0x40, 0x00, 50, 0x00, 0x02, 7, 8])  # 64 / 50 / 512
EDGE = bytes([3 | 2 << 3, 5, 2, 6, 0, 0, 9, 9])         # 65536 / 2 / 65537

MALFORMED = {
    "obs_fold": b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
    "space_before_colon": b"GET / HTTP/1.1\r\nHost : h\r\n\r\n",
    "no_colon": b"GET / HTTP/1.1\r\nHost\r\n\r\n",
    "bare_cr_value": b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
    "bare_cr_blank": b"GET / HTTP/1.1\r\nX: a\r\n\rX\r\n",
    "ctl_in_value": b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
    "del_in_value": b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n",
    "nul_in_name": b"GET / HTTP/1.1\r\nX\x00Y: a\r\n\r\n",
    "empty_name": b"GET / HTTP/1.1\r\n: a\r\n\r\n",
    "lf_only": b"GET /a HTTP/1.0\nHost: h\nX:\n\n",
    "eof_in_line": b"GET / HTTP/1.1\r\nHost: h\r\nX-Cut: abc",
    "eof_at_boundary": b"GET / HTTP/1.1\r\nHost: h\r\n",
    "empty_value_ows": b"GET / HTTP/1.1\r\nX: \t \r\nY:\r\n\r\n",
    "trailing_ws": b"GET / HTTP/1.1\r\nX:   v \t\r\n\r\n",
    "obs_text": b"GET /\xe9\xff HTTP/1.1\r\nX: \x80\xff\xa0\x85\r\n\r\n",
    "nbsp_target": b"GET /a\xa0b HTTP/1.1\r\n\r\n",
    "http09": b"GET /nine\r\n",
    "version_2": b"GET / HTTP/2.0\r\n\r\n",
    "version_10": b"GET / HTTP/1.10\r\n\r\n",
    "no_terminator": b"GET / HTTP/1.1",
    "cr_terminator": b"GET / HTTP/1.1\r",
    "multi_space": b"GET   /a   HTTP/1.0  \r\n\r\n",
    "many_headers": b"GET / HTTP/1.1\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(101)) + b"\r\n",
    "long_line": b"GET / HTTP/1.1\r\nX: " + b"b" * 300 + b"\r\n\r\n",
    "blank_then_junk": b"GET / HTTP/1.1\r\n\r\n\x00\x01garbage",
    "pipelined_bad": b"GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
}


def write(dirpath, name, data):
    dirpath.mkdir(parents=True, exist_ok=True)
    (dirpath / name).write_bytes(data)


def main():
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "requests"
    requests = {p.stem: p.read_bytes() for p in sorted(corpus.glob("*.http"))}
    if not requests:
        sys.exit(f"error: no request corpus at {corpus}/*.http")

    cparser = FUZZ / "corpus_parser"
    python = FUZZ / "corpus_python"
    for name, data in requests.items():
        write(cparser, f"req_{name}", DEFAULT + data)
        write(python, f"req_{name}", bytes([0]) + data)
    # A few stressing configurations over some real requests.
    variants = [("lines", LINES), ("bytes", BYTES), ("tiny", TINY),
                ("tinyfresh", TINY_FRESH), ("medium", MEDIUM), ("edge", EDGE)]
    picks = [n for n in ("curl_get", "api_many_headers", "latin1_header_value",
                         "pipelined_3") if n in requests]
    for i, (vname, cfg) in enumerate(variants):
        for name in picks[i % max(1, len(picks)):][:2]:
            write(cparser, f"cfg_{vname}_{name}", cfg + requests[name])
    for i, (name, data) in enumerate(MALFORMED.items()):
        write(cparser, f"bad_{name}", DEFAULT + data)
        if i % 2 == 0:  # every other one, under varied configurations
            write(python, f"bad_{name}", bytes([i * 37 % 256]) + data)
    # Bodies (issue 11): chunked decoding through read_body(), and bodies the
    # handler leaves unread, dropped after it (cfg 0x11: HTTP/1.1, our
    # SocketReader, 1-byte recvs; 0x71: 64 KiB recvs).
    smuggled = b"GET /admin HTTP/1.1\r\nHost: h\r\n\r\n"
    bodies = {
        "chunked_trailers": b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"4;x=y\r\nWiki\r\n0\r\nX-T: 1\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
        "chunked_bare_lf": b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        "chunked_tiny": b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + b"1\r\nx\r\n" * 64 + b"0\r\n\r\n",
        "unread_cl": b"GET / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(smuggled)
                     + smuggled + b"GET /n HTTP/1.1\r\n\r\n",
        "host_twice": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    }
    for name, data in bodies.items():
        write(python, f"body_{name}", bytes([0x11]) + data)
        write(python, f"body_{name}_big_recv", bytes([0x71]) + data)
    # The headers-only view (cfg bit 2): header lines with no request line.
    write(cparser, "hdr_only_tiny", bytes([1 | 4, 12, 3, 0, 0, 0, 1, 1]) + b"A: b\r\nCc: d\r\n\r\n")
    write(cparser, "hdr_only_extra_line", bytes([3 | 4, 5, 2, 0, 0, 0, 0, 0]) + b"A: b\r\n" + b"x" * 70 + b"\r\n")
    # Regression inputs (fuzz/regressions/) double as seeds.
    reg = FUZZ / "regressions"
    if reg.is_dir():
        for p in sorted(reg.iterdir()):
            if p.is_file() and p.name.startswith("parser_"):
                write(cparser, "regression_" + p.name, p.read_bytes())
            elif p.is_file() and p.name.startswith("python_"):
                write(python, "regression_" + p.name, p.read_bytes())
    for d in (cparser, python):
        n = sum(1 for _ in d.iterdir())
        print(f"{d.relative_to(ROOT)}: {n} files")


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
