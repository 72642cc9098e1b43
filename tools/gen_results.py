"""Write fasthttp/fh_results.py from csrc/fh_parser.h's FH_RESULTS X-macro.

The header is the one list of the parser's result codes and reasons; the C
parser is built from it and the pure-Python twin reads this generated table.
Run it after editing FH_RESULTS (tests/test_parser.py fails until you do):

    python tools/gen_results.py
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = ROOT / "csrc" / "fh_parser.h"
OUTPUT = ROOT / "fasthttp" / "fh_results.py"


def results(header_text: str) -> list[tuple[str, int, str]]:
    """(name, code, reason) of each X(...) entry, in order."""
    entries = re.findall(r'X\((FH_\w+), (-?\d+), "([^"\\]*)"\)', header_text)
    if not entries:
        raise SystemExit("no FH_RESULTS entries in %s" % HEADER)
    return [(name, int(code), reason) for name, code, reason in entries]


def module_text(header_text: str) -> str:
    entries = results(header_text)
    lines = [
        '"""The request-head parser\'s result codes and reasons, for the pure-Python',
        "path: generated from csrc/fh_parser.h's FH_RESULTS by tools/gen_results.py.",
        'Do not edit; edit the header and run the script."""',
        "",
    ]
    lines += ["%s = %d" % (name, code) for name, code, _ in entries]
    lines += ["", "# code -> (name, reason)", "RESULTS: dict[int, tuple[str, str]] = {"]
    lines += ['    %s: ("%s", "%s"),' % (name, name, reason) for name, _, reason in entries]
    lines += ["}", ""]
    return "\n".join(lines)


def main() -> None:
    text = module_text(HEADER.read_text())
    if "--check" in sys.argv:
        if OUTPUT.read_text() != text:
            raise SystemExit("%s is stale: run python tools/gen_results.py" % OUTPUT)
        return
    OUTPUT.write_text(text)


if __name__ == "__main__":
    main()
