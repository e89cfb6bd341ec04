"""``mrsweep hardness-check``: test the thesis' vertex cover -> c-DPS reduction on random graphs.

For every random G(n, p) graph, every k in 1..|V| and every c, compare "G has a vertex cover
of size <= k" (exact enumeration) with "the constructed c-DPS instance has a hyperplane
through >= h points" (exact MILP + rational verification), print a table of agreements and
every disagreement with its certificate hyperplane, and optionally write all rows as CSV.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from modelrepair.errors import UserError


def _floats(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err


def _ints(text: str) -> list[int]:
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


DESCRIPTION = """\
Test the thesis' vertex cover -> c-DPS reduction on random graphs.

For every random G(n, p) graph, every k in 1..|V| and every c, compare "G has a vertex cover
of size <= k" (exact enumeration) with "the constructed c-DPS instance has a hyperplane
through >= h points" (exact MILP + rational verification), print a table of agreements and
every disagreement with its certificate hyperplane, and optionally write all rows as CSV.
Repeated random graphs are skipped, so small sizes give fewer graphs (n=2 has only two).
"""

REALISED_C = ("realised_c = 1 - h/n: fraction of the instance's n points off an h-point hyperplane "
              "(the c actually tested)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "hardness-check", help="check the thesis' vertex cover -> c-DPS reduction on small graphs",
        description=DESCRIPTION,
        epilog=REALISED_C + ".\n\nExit status: 0 when the check ran (disagreements are findings, counted in "
        "the table and the CSV); 2 on bad options.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="seed of the random graphs (default 0)")
    p.add_argument("--sizes", type=_ints, default=[2, 3, 4, 5, 6],
                   help="vertex counts, comma-separated (default 2,3,4,5,6)")
    p.add_argument("--densities", type=_floats, default=[0.3, 0.6, 0.9],
                   help="edge probabilities of G(n, p), comma-separated (default 0.3,0.6,0.9)")
    p.add_argument("--graphs-per-cell", type=int, default=3,
                   help="random graphs per (size, density) (default 3)")
    p.add_argument("--c", dest="cs", type=str, default="0.25,0.3,0.5,0.6,0.75",
                   help="fractions c, comma-separated decimals, read exactly "
                        "(default 0.25,0.3,0.5,0.6,0.75)")
    p.add_argument("--variant", choices=["thesis", "pstar_minus_one", "repaired"],
                   default="thesis",
                   help="'thesis' (default): the construction as written; 'pstar_minus_one': "
                        "p* moved to y=-1; 'repaired': that plus eta rounded down "
                        "(candidate repairs, not the thesis)")
    p.add_argument("--solver", choices=["mip", "bruteforce"], default="mip",
                   help="exact c-DPS solver (default mip; bruteforce only for tiny graphs)")
    p.add_argument("--csv", default=None, help="write every row to this CSV file")
    p.add_argument("--max-listed", type=int, default=100,
                   help="print at most this many disagreements (default 100; all go to --csv)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.set_defaults(func=cmd_hardness_check)


def graphs_line(got: int, asked: int) -> str:
    """``5 distinct graphs (1 duplicate skipped)``: random_graphs skips repeated draws."""
    skipped = asked - got
    note = f" ({skipped} duplicate{'s' if skipped != 1 else ''} skipped)" if skipped > 0 else ""
    return f"{got} distinct graph{'s' if got != 1 else ''}{note}"


def cmd_hardness_check(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from modelrepair.hardness.checker import (
        disagreement_lines,
        random_graphs,
        run_check,
        summary_table,
        write_csv,
    )
    from modelrepair.hardness.rational import to_fraction

    try:
        cs = [to_fraction(t.strip()) for t in args.cs.split(",") if t.strip()]
    except ValueError as err:
        raise UserError(f"--c: expected comma-separated decimals, got {args.cs!r}") from err
    bad = [str(c) for c in cs if not 0 < c < 1]
    if bad or not cs:
        raise UserError(f"--c: every c must satisfy 0 < c < 1, got {args.cs!r}")
    if any(n < 1 for n in args.sizes) or args.graphs_per_cell < 1:
        raise UserError("--sizes and --graphs-per-cell must be positive")
    if any(not 0 <= p <= 1 for p in args.densities):
        raise UserError(f"--densities must lie in [0, 1], got {args.densities}")
    graphs = random_graphs(args.sizes, args.densities, args.graphs_per_cell, args.seed)

    def progress(tasks):
        return tqdm(tasks, desc="hardness-check", unit="inst", disable=args.no_progress,
                    file=sys.stderr)

    rows = run_check(graphs, cs, variant=args.variant, solver=args.solver, progress=progress)
    print(f"hardness-check: variant={args.variant} solver={args.solver} seed={args.seed} "
          f"sizes={args.sizes} densities={args.densities}")
    print(graphs_line(len(graphs), len(args.sizes) * len(args.densities) * args.graphs_per_cell))
    print(summary_table(rows))
    print(REALISED_C)
    lines = disagreement_lines(rows, args.max_listed)
    print(f"\ndisagreements / undecided ({sum(r.agree is not True for r in rows)}):")
    print("\n".join(lines) if lines else "  none")
    if args.csv:
        write_csv(rows, args.csv)
        print(f"wrote {len(rows)} rows to {args.csv}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m jobs.cli_hardness``), same options as the subcommand."""
    parser = argparse.ArgumentParser(prog="hardness")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["hardness-check", *(argv if argv is not None else sys.argv[1:])])
    try:
        return int(args.func(args) or 0)
    except UserError as err:
        print(f"hardness-check: error: {err}", file=sys.stderr)
        return err.exit_code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
