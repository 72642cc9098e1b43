"""`make bump VERSION=x.y.z`: move CHANGELOG.md's Unreleased entries under a new
release heading dated today, and update the link references at the bottom."""
from __future__ import annotations

import datetime
import re
import sys
from pathlib import Path

CHANGELOG = Path(__file__).resolve().parents[1] / "CHANGELOG.md"


def main(version: str) -> int:
    text = CHANGELOG.read_text(encoding="utf-8")
    if f"## [{version}]" in text:
        print(f"CHANGELOG.md already has a [{version}] section")
        return 1
    today = datetime.date.today().isoformat()
    text = text.replace("## [Unreleased]\n", f"## [Unreleased]\n\n## [{version}] - {today}\n", 1)
    m = re.search(r"^\[Unreleased\]: (.*)/compare/v(.+)\.\.\.HEAD$", text, re.M)
    if m:
        base, previous = m.group(1), m.group(2)
        text = text.replace(
            m.group(0),
            f"[Unreleased]: {base}/compare/v{version}...HEAD\n"
            f"[{version}]: {base}/compare/v{previous}...v{version}")
    CHANGELOG.write_text(text, encoding="utf-8")
    print(f"CHANGELOG.md: [{version}] - {today}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
