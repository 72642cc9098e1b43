#!/usr/bin/env python3
"""Summarize a pytest-benchmark JSON: one table per benchmark group.

    python bench/report.py bench/results/latest.json [--markdown]

For every group (same input, several implementations) it prints each implementation's median
and how many times faster it is than the references present in that group:

    stdlib/impl        stdlib median / impl median (> 1: impl is faster than the stdlib).
                       An implementation named "<impl>-<variant>" (e.g. fasthttp-socket) is
                       compared with "stdlib-<variant>" when the group has it, so that a
                       socket-reader variant is held against the stdlib over the same socket.
    stdlib-tuned/impl  the same against the tuned stdlib handler (roundtrip groups).
    httptools/impl     the same against httptools (parse groups).

Groups whose benchmarks record ``requests_per_round`` (the roundtrip ones) also get the median
time per request. A summary at the end gives each implementation's stdlib/impl ratio per group.
Only medians and ratios: the machine is noisy, nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tables  # noqa: E402
from tables import fmt_time  # noqa: E402

IMPL_ORDER = ["stdlib", "stdlib-socket", "stdlib-tuned", "httptools", "fasthttp", "fasthttp-socket"]
REFERENCES = ["stdlib", "stdlib-tuned", "httptools"]
GROUP_ORDER = ["parse", "response", "roundtrip"]


def fmt_ratio(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}x"


def impl_of(bench: dict) -> str:
    impl = bench.get("extra_info", {}).get("impl") or bench.get("params", {}).get("impl")
    return impl or bench.get("param") or bench["name"]


def impl_key(impl: str):
    return (IMPL_ORDER.index(impl), impl) if impl in IMPL_ORDER else (len(IMPL_ORDER), impl)


def group_key(group: str):
    head = group.split("[", 1)[0]
    rank = GROUP_ORDER.index(head) if head in GROUP_ORDER else len(GROUP_ORDER)
    return (rank, group)


def baseline_for(impl: str, reference: str, present) -> str | None:
    """The row *impl* is held against for *reference* (same-variant stdlib when present)."""
    if reference == "stdlib" and "-" in impl and not impl.startswith("stdlib"):
        variant = impl.split("-", 1)[1]
        if f"stdlib-{variant}" in present:
            return f"stdlib-{variant}"
    return reference if reference in present else None


def load(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def collect(data: dict):
    """group -> {impl: {"median": s, "per_request": s|None, "rounds": n, "extra": {...}}}"""
    groups: dict[str, dict[str, dict]] = defaultdict(dict)
    for bench in data.get("benchmarks", []):
        stats = bench["stats"]
        extra = bench.get("extra_info", {})
        per_round = extra.get("requests_per_round")
        groups[bench.get("group") or bench["name"]][impl_of(bench)] = {
            "median": stats["median"],
            "per_request": stats["median"] / per_round if per_round else None,
            "rounds": stats["rounds"],
            "extra": extra,
        }
    return dict(sorted(groups.items(), key=lambda kv: group_key(kv[0])))


def render(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    return tables.render(headers, rows, markdown, left={0} | ({len(headers) - 1} if headers[-1] == "notes" else set()))


def note_for(extra: dict) -> str:
    notes = []
    if "accelerated" in extra:
        notes.append("C" if extra["accelerated"] else "pure-Python")
    if extra.get("reader") and extra["reader"] != "io.BytesIO":
        notes.append(f"rfile={extra['reader'].rsplit('.', 1)[-1]}")
    if extra.get("headers"):
        notes.append(extra["headers"])
    if extra.get("client"):
        notes.append(f"client: {extra['client']}")
    return ", ".join(notes)


def group_table(impls: dict[str, dict], markdown: bool) -> str:
    present = set(impls)
    refs = [r for r in REFERENCES if r in present]
    per_request = any(v["per_request"] is not None for v in impls.values())
    headers = ["impl", "median"] + (["per request"] if per_request else [])
    headers += [f"{r}/impl" for r in refs] + ["rounds", "notes"]
    rows = []
    for impl in sorted(impls, key=impl_key):
        row = impls[impl]
        cells = [impl, fmt_time(row["median"])]
        if per_request:
            cells.append(fmt_time(row["per_request"]) if row["per_request"] is not None else "")
        for ref in refs:
            base = baseline_for(impl, ref, present)
            ratio = impls[base]["median"] / row["median"] if base else None
            label = fmt_ratio(ratio)
            if base and base != ref:
                label += f" (vs {base})"
            cells.append(label)
        cells += [str(row["rounds"]), note_for(row["extra"])]
        rows.append(cells)
    return render(headers, rows, markdown)


def summary_table(groups: dict, markdown: bool) -> str:
    impls = sorted({i for g in groups.values() for i in g if i != "stdlib"}, key=impl_key)
    headers = ["group (stdlib/impl, >1 = faster than the stdlib)"] + impls
    rows = []
    for name, members in groups.items():
        present = set(members)
        cells = [name]
        for impl in impls:
            base = baseline_for(impl, "stdlib", present)
            if impl in members and base:
                cells.append(fmt_ratio(members[base]["median"] / members[impl]["median"]))
            else:
                cells.append("-")
        rows.append(cells)
    return render(headers, rows, markdown)


def header_lines(data: dict) -> list[str]:
    mi = data.get("machine_info", {})
    ci = data.get("commit_info", {})
    lines = [
        f"pytest-benchmark {data.get('version', '?')} run of {data.get('datetime', '?')}",
        f"python {mi.get('python_implementation', '?')} {mi.get('python_version', '?')}, "
        f"cpu: {mi.get('cpu', {}).get('brand_raw', mi.get('processor', '?'))}",
    ]
    if ci.get("id"):
        lines.append(f"commit {ci['id'][:12]}{' (dirty)' if ci.get('dirty') else ''} on {ci.get('branch', '?')}")
    if mi.get("fasthttp"):
        mode = "C-accelerated" if mi.get("fasthttp_accelerated") else "pure-Python fallback"
        lines.append(f"fasthttp {mi['fasthttp']} ({mode}) from {mi.get('fasthttp_file', '?')}")
    elif "fasthttp_missing" in mi:
        lines.append(f"fasthttp: not measured ({mi['fasthttp_missing']})")
    if mi.get("httptools"):
        lines.append(f"httptools {mi['httptools']}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", help="file written by pytest --benchmark-json")
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = ap.parse_args(argv)
    try:
        data = load(args.json)
    except (OSError, ValueError) as exc:
        print(f"report.py: cannot read {args.json}: {exc}", file=sys.stderr)
        return 1
    groups = collect(data)
    if not groups:
        print(f"report.py: no benchmarks in {args.json}", file=sys.stderr)
        return 1
    out = []
    prefix = "" if not args.markdown else "- "
    out += [prefix + line for line in header_lines(data)]
    for name, impls in groups.items():
        title = f"### {name}" if args.markdown else f"== {name} =="
        out += ["", title, group_table(impls, args.markdown)]
    out += ["", "### summary" if args.markdown else "== summary ==", summary_table(groups, args.markdown)]
    print(re.sub(r"[ \t]+\n", "\n", "\n".join(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
