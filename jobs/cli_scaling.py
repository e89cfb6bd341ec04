"""``mrsweep scaling``: repair cost vs model size from one or more finished sweeps (one per solver)."""

from __future__ import annotations

import argparse
from pathlib import Path

from modelrepair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scaling", help="solve time vs model size (log-log) with fitted power-law slopes",
        description="Read finished sweeps of linear/twolayer models (e.g. the same preset run with "
        "different solvers: examples/scaling-linear.toml, examples/scaling-linear-highs.toml), take the "
        "median and IQR of solve_seconds per (solver, model, eps), fit log t = a + b log size per "
        "(solver, n, eps) (size = p for linear, d x hidden for twolayer) and write scaling.{png,pdf}, "
        "scaling_slopes.csv, scaling_times.csv (with time ratios to the first sweep's solver) and "
        "scaling_summary.txt.",
    )
    p.add_argument("sweeps", nargs="+", metavar="sweep", help="sweep folder (or its config .toml); the first is the ratio reference")
    p.add_argument("--output", "-o", help="folder for the outputs (default: <first sweep>/aggregate)")
    p.add_argument("--allow-partial", action="store_true", help="use the valid shards even if some are missing or bad")
    p.add_argument("--fit-min-size", type=int, default=0, metavar="SIZE",
                   help="fit slopes on sizes >= SIZE only (small sizes can be overhead-bound); the figure shows all")
    p.add_argument("--format", action="append", dest="formats", choices=("png", "pdf", "svg"),
                   help="figure format (repeatable; default png and pdf)")
    p.set_defaults(func=cmd_scaling)


def _sweep_dir(target: str) -> Path:
    from jobs.sweepdir import resolve_target

    sweep_dir, _ = resolve_target(target)
    if not (sweep_dir / "shards").is_dir():
        raise UserError(f"{target}: not a sweep folder (no shards/ inside); give the folder of a "
                        "finished `mrsweep run`, e.g. sweeps/scaling-linear-batched")
    return sweep_dir


def cmd_scaling(args: argparse.Namespace) -> int:
    from aggregate.scaling import scaling_study

    dirs = [_sweep_dir(t) for t in args.sweeps]
    out = Path(args.output) if args.output else dirs[0] / "aggregate"
    result = scaling_study(dirs, out, allow_partial=args.allow_partial,
                           formats=tuple(args.formats or ("png", "pdf")), fit_min_size=args.fit_min_size)
    print(result.summary.rstrip())
    for key, path in result.paths.items():
        print(f"{key}: {path}")
    return 0
