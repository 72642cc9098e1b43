"""Judge a valgrind memcheck log of a Python run: fail only on errors that
touch fasthttp's C code.

    python3 fuzz/valgrind_report.py LOGFILE

The interpreter used here (CPython 3.11, not built --with-valgrind) shows
memcheck noise of its own even with PYTHONMALLOC=malloc: "uninitialised
value" reports inside int.from_bytes / long_bitwise / PyLong_FromString
during imports, and an AVX2 wmemcmp overread in unicode_compare. None of
them has a frame in our code. Rather than a suppression file tied to those
exact interpreter call stacks (which would also have to be regenerated for
every Python build), this script splits the log into error records and
fails when any record has a frame in the extension (fasthttp/_*.so, the
Cython module, fh_parser.c). It prints valgrind's ERROR SUMMARY lines and
our own count.
"""
import re
import sys

OURS = re.compile(r"fasthttp/_[a-z]+\.cpython|fh_parser\.c|fh_parse_|fh_headers_|fasthttp/")
RECORD_START = re.compile(r"^==\d+== (Invalid |Conditional jump|Use of uninitialised|"
                          r"Syscall param|Mismatched free|Source and destination overlap|"
                          r"Argument '|\d+ bytes in \d+ blocks are definitely)")


def main(path):
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    records, cur = [], None
    for line in lines:
        body = re.sub(r"^==\d+== ?", "", line)
        if RECORD_START.match(line):
            cur = [line]
            records.append(cur)
        elif cur is not None:
            if not body.strip():
                cur = None
            else:
                cur.append(line)
    ours = [r for r in records if any(OURS.search(x) for x in r)]
    for line in lines:
        if "ERROR SUMMARY" in line:
            print(line)
    print("valgrind records: %d in total, %d with a frame in fasthttp's C code"
          % (len(records), len(ours)))
    for r in ours[:10]:
        print("\n".join(r))
        print()
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
