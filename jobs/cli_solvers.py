"""``mrsweep solvers``: list the LAD backends this installation can use."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("solvers", help="list LAD solver backends",
                       description="List the LAD solver backends available for `[repair] solver = ...`.")
    p.set_defaults(func=cmd_solvers)


def cmd_solvers(args: argparse.Namespace) -> int:
    from modelrepair.lad import _BACKENDS, DEFAULT_SOLVER, available_solvers

    for name in available_solvers():
        doc = (_BACKENDS[name].__doc__ or "").strip().splitlines()
        mark = " (default)" if name == DEFAULT_SOLVER else ""
        print(f"{name}{mark}: {doc[0] if doc else ''}")
    return 0
