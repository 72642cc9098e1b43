"""What the benchmarks print: log(), medians of runs, ratios to references, and tables.

    rows = summarize(runs, by=("connections", "server"), medians=("rps", "cpu_us_per_req"))
    add_ratios(rows_of_one_group, "rps", ["nginx", "stdlib"])              # x/ref, a rate
    add_ratios(rows_of_one_group, "cpu_us_per_req", ["stdlib"], higher_better=False)  # ref/x
    log(render(headers, cells))          # aligned text; render(..., markdown=True) for the README

Every ratio reads the same way: > 1 means better than the reference (more throughput, less CPU,
less time). Medians and ratios only: the machines are noisy, nothing here asserts on timings.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

Row = dict[str, Any]


def log(msg: str = "", out: TextIO | None = None) -> None:
    """One line of progress or results, at once (flushed: the runs are long)."""
    print(msg, file=out or sys.stdout, flush=True)


def median(values: Iterable[float | None]) -> float | None:
    """The median of the values that are not None; None when there is none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num and den else None


def summarize(runs: Iterable[Row], by: Sequence[str], medians: Sequence[str], *,
              sums: Sequence[str] = (), mins: Sequence[str] = ()) -> dict[tuple[Any, ...], Row]:
    """The runs grouped by their values of *by* (in the order first seen): per group the median
    of each field of *medians*, the sum of each of *sums*, the least of each of *mins*, and
    'runs' (how many)."""
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for run in runs:
        groups.setdefault(tuple(run[k] for k in by), []).append(run)
    out = {}
    for key, mine in groups.items():
        row: Row = {"runs": len(mine)}
        row.update({f: median(r[f] for r in mine) for f in medians})
        row.update({f: sum(r[f] for r in mine) for f in sums})
        row.update({f: min(r[f] for r in mine) for f in mins})
        out[key] = row
    return out


def add_ratios(rows: dict[str, Row], field: str, refs: Iterable[str], *,
               higher_better: bool = True, key: str | None = None) -> None:
    """rows[name][key][ref]: how many times better *name* is than *ref* on *field* (> 1:
    better): name/ref for a rate, ref/name for a cost (higher_better=False). None where a
    figure is missing. key defaults to field + '_ratio'."""
    for row in rows.values():
        row[key or field + "_ratio"] = {
            ref: ratio(row.get(field), rows[ref].get(field)) if higher_better
            else ratio(rows[ref].get(field), row.get(field))
            for ref in refs if ref in rows}


# --------------------------------------------------------------------------- formatting


def fmt(v: float | None, spec: str = ".0f", suffix: str = "") -> str:
    return "-" if v is None else f"{v:{spec}}{suffix}"


def fmt_x(r: float | None) -> str:
    """A ratio: 1.23x (three decimals below 0.1)."""
    if r is None:
        return "-"
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.3f}x"


def fmt_ms(v: float | None) -> str:
    """Milliseconds, in us below one."""
    if v is None:
        return "-"
    return f"{v * 1e3:.0f} us" if v < 1 else f"{v:.2f} ms"


def fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.2f} {unit}"
    return f"{seconds / 1e-9:.0f} ns"


def render(headers: Sequence[str], rows: Sequence[Sequence[str]], markdown: bool = False,
           left: Iterable[int] = (0,)) -> str:
    """A table: Markdown, or text in columns (those of *left* aligned left, the others right)."""
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    left = set(left)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])
