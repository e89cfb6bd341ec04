"""``mrsweep solvers``: list the LAD backends, what they return and whether they work here."""

from __future__ import annotations

import argparse
import shutil
from dataclasses import dataclass


@dataclass(frozen=True)
class SolverInfo:
    """What ``mrsweep solvers`` says about one backend."""

    method: str
    statuses: tuple[str, ...]


#: User-facing descriptions of the built-in backends (others fall back to their docstring).
SOLVERS: dict[str, SolverInfo] = {
    "batched": SolverInfo("ADMM on all columns at once (CPU or GPU), exact vertex finish and LP-dual "
                          "certificate; a batched interior-point stage where ADMM certifies little; "
                          "HiGHS for columns left uncertified", ("certified", "exact_lp", "failed")),
    "highs": SolverInfo("one exact HiGHS linear program per column", ("exact_lp", "failed")),
    "cvxpy": SolverInfo("one cvxpy problem (default conic solver) re-solved per column", ("exact_lp", "failed")),
    "quantreg": SolverInfo("R quantreg rq.fit (the thesis' solver), one fit per column", ("exact_lp", "failed")),
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "solvers", help="list LAD solver backends",
        description="List the LAD solver backends for `[repair] solver = NAME`: how each solves, "
        "the per-column status values it returns (certified = optimality proven by an LP dual "
        "certificate, exact_lp = an LP solver reported optimal, failed = no solution) and "
        "whether it can run on this machine.")
    p.set_defaults(func=cmd_solvers)


def availability(name: str, registered: bool) -> str:
    """``available`` or ``not available: <what to install>`` (quantreg: asks R, ~0.3 s)."""
    if not registered:
        return "not available: its Python dependencies are not installed"
    if name == "quantreg":
        if shutil.which("Rscript") is None:
            return "not available: needs Rscript on PATH and the R package quantreg (benchmarks/setup_r.sh)"
        import subprocess

        probe = ["Rscript", "-e", "quit(status = if (requireNamespace('quantreg', quietly = TRUE)) 0 else 3)"]
        try:
            rc = subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode
        except (OSError, subprocess.TimeoutExpired):
            return "unknown: Rscript did not answer within 30 s"
        if rc != 0:
            return "not available: R is installed but the R package quantreg is not (benchmarks/setup_r.sh)"
    return "available"


def solver_lines() -> list[str]:
    """One line per backend: name (default marked), method, statuses, availability."""
    from modelrepair.lad import _BACKENDS, DEFAULT_SOLVER, available_solvers

    registered = set(available_solvers())
    names = [n for n in SOLVERS if n in registered or n == "quantreg"] + sorted(registered - set(SOLVERS))
    labels = {n: f"{n} (default)" if n == DEFAULT_SOLVER else n for n in names}
    width = max(len(s) for s in labels.values())
    lines = []
    for name in names:
        info = SOLVERS.get(name)
        if info is None:  # a plug-in backend: first docstring line, without reST markup
            doc = (_BACKENDS[name].__doc__ or "").strip().splitlines()
            info = SolverInfo(doc[0].replace("``", "").rstrip(".") if doc else "(no description)", ())
        returns = f"; returns {', '.join(info.statuses)}" if info.statuses else ""
        lines.append(f"{labels[name]:<{width}}  {info.method}{returns}; "
                     f"{availability(name, name in registered)}")
    return lines


def cmd_solvers(args: argparse.Namespace) -> int:
    print("LAD solvers for `[repair] solver = NAME` (status values: certified = proven optimal "
          "by an LP dual certificate, exact_lp = LP solver optimal, failed = no solution):")
    for line in solver_lines():
        print(f"  {line}")
    return 0
