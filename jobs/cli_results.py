"""``mrsweep aggregate`` and ``mrsweep plot``: curves and figures from shard files."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "aggregate", help="merge shard files into curves, a summary and figures",
        description="Merge <sweep>/shards/*.nc (validated against manifest.json), compute repair "
        "probability with 95% intervals per (model, eps), write <sweep>/aggregate/{curves.nc, "
        "summary.csv, summary.txt, figures}. Fails if shards are missing or bad unless --allow-partial.",
    )
    p.add_argument("sweep", help="sweep folder (or its config .toml)")
    p.add_argument("--allow-partial", action="store_true", help="aggregate the valid shards even if some are missing or bad")
    p.add_argument("--no-figures", action="store_true", help="skip the figures")
    p.add_argument("--output", "-o", help="with a config: its sweep folder override")
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("plot", help="redraw figures from <sweep>/aggregate/curves.nc",
                       description="Redraw the repair-probability and error figures from curves.nc.")
    p.add_argument("sweep", help="sweep folder (or its config .toml)")
    p.add_argument("--format", action="append", dest="formats", help="figure format (png, pdf, svg; repeatable)")
    p.add_argument("--output", "-o", help="with a config: its sweep folder override")
    p.set_defaults(func=cmd_plot)


def aggregate_and_report(sweep_dir, allow_partial: bool = False, figures: bool = True) -> dict:
    """Run the aggregate package on a sweep folder; print the summary and file paths."""
    from aggregate import aggregate_sweep

    result = aggregate_sweep(sweep_dir, allow_partial=allow_partial, figures=figures)
    print(result.summary.rstrip())
    for key, path in result.paths.items():
        print(f"{key}: {path}")
    return result.paths


def cmd_aggregate(args: argparse.Namespace) -> int:
    from jobs.sweepdir import resolve_target

    sweep_dir, _ = resolve_target(args.sweep, output=args.output)
    aggregate_and_report(sweep_dir, args.allow_partial, not args.no_figures)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from aggregate import plot_sweep
    from jobs.sweepdir import resolve_target

    sweep_dir, _ = resolve_target(args.sweep, output=args.output)
    from aggregate.outputs import stale_inputs

    newer = stale_inputs(sweep_dir)
    if newer and newer != ["curves.nc"]:
        shown = ", ".join(newer[:3]) + (f", ... (+{len(newer) - 3})" if len(newer) > 3 else "")
        print(f"warning: curves.nc is older than {shown}; run `mrsweep aggregate {sweep_dir}` to include them",
              file=sys.stderr)
    for path in sorted(plot_sweep(sweep_dir, formats=tuple(args.formats or ("png", "pdf"))).values()):
        print(path)
    return 0
