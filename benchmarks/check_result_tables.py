"""Check (or regenerate) the committed result tables from the results they were made from.

A table in ``docs/result_tables/NAME.txt`` is checkable when the ``results.json`` of its run is
stored beside it as ``NAME.json``: this script renders the table again with the benchmark's
own code (``agents.experiments.report.render_results``: aggregation from the per-task
outcomes, then formatting) and compares. Nothing is retrained or re-evaluated, so it takes a second.

    python benchmarks/check_result_tables.py            # exit 1 if a table differs
    python benchmarks/check_result_tables.py --write    # rewrite the tables that differ
    python benchmarks/check_result_tables.py --add runs/benchmark-demo/results.json demo

``--add`` stores a run's ``results.json`` as ``NAME.json`` (compact) and writes ``NAME.txt``
from it: the way to (re)commit a table, e.g. after ``make demo``. Tables without a stored
``.json`` are listed as not checkable (their runs predate this script).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agents.experiments.report import check_result_tables

FOLDER = Path(__file__).resolve().parent.parent / "docs" / "result_tables"


def main(argv: list[str] | None = None) -> int:
    """Check every table; returns 1 if any differs from its stored results (0 with --write)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--folder", default=str(FOLDER), help="folder of NAME.txt / NAME.json pairs")
    p.add_argument("--write", action="store_true", help="rewrite the tables that differ")
    p.add_argument(
        "--add",
        nargs=2,
        metavar=("RESULTS_JSON", "NAME"),
        help="store a run's results.json as NAME.json and write NAME.txt from it",
    )
    args = p.parse_args(argv)
    folder = Path(args.folder)
    if args.add:
        source, name = Path(args.add[0]), args.add[1]
        results = json.loads(source.read_text())
        if not isinstance(results, dict) or "per_seed" not in results:
            p.error(f"{source} is not a benchmark results.json (it has no per_seed outcomes)")
        # compact (one line): the same content in about half the bytes of the run's file
        (folder / f"{name}.json").write_text(json.dumps(results, separators=(",", ":")) + "\n")
        args.write = True
    status = check_result_tables(folder, write=args.write)
    for name, state in status.items():
        print(f"{state:>17}  {folder / name}.txt")
    bad = [name for name, state in status.items() if state in ("differs", "missing")]
    if bad:
        print(
            f"{len(bad)} table(s) differ from their stored results: rerun with --write "
            "(or regenerate the run)",
            file=sys.stderr,
        )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
