"""Side-by-side LAD benchmark: batched solver vs HiGHS, highspy, cvxpy and R quantreg.

Cases (same seeded inputs for every solver):
- ``colon``: the thesis' largest colon layer, 2000 LADs of 1000 x 62 sharing A = X^T
  (X = log of the colon data, 62 samples x 1000 random genes; ``--synthetic``: Gaussian
  of the same shape). B = A V + Bernoulli(eps) x N(1, 1), V ~ N(0, 1/62).
- ``linear-n{n}-p{p}``: one LAD of p x n per problem (A = X^T, X Gaussian n x p, b = min-norm
  theta + corruption); ``--problems`` problems, each with its own X.

Slow baselines run on a subsample of the columns/problems; their time is scaled to the
whole case (per-problem time x problems) and the output says so. Ratios are baseline
seconds / batched seconds, measured in the same run. "agree" counts identical exact-repair
verdicts (max |repaired - true| <= tol) on the columns both solved; "max|d|" is the
largest |A u_ours - A u_baseline| (repaired parameters; unique even where u is not).

    .venv/bin/python benchmarks/lad.py --quick
    .venv/bin/python benchmarks/lad.py --cases colon --eps 0.1 0.5 --solvers batched quantreg-fn
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelrepair.lad import solve_lad

REPO = Path(__file__).resolve().parents[1]
COLON_X = REPO.parent / "shared" / "data" / "colon_alon1999_X.csv"

#: name -> (backend, options, slow?)
SOLVERS = {
    "batched": ("batched", {}, False),
    "batched-torch": ("batched", {"backend": "torch"}, False),
    "batched-numpy": ("batched", {"backend": "numpy"}, False),
    "batched-f32": ("batched", {"dtype": "float32"}, False),
    "batched-f64": ("batched", {"dtype": "float64"}, False),
    "batched-numpy-ipm": ("batched", {"backend": "numpy", "ipm_backend": "numpy"}, False),
    "batched-cuda": ("batched", {"device": "cuda"}, False),
    "quantreg-fn": ("quantreg", {"method": "fn", "blas": "openblas", "workers": 2}, True),
    "quantreg-fn-thesis": ("quantreg", {"method": "fn"}, True),
    "quantreg-br": ("quantreg", {"method": "br", "blas": "openblas", "workers": 2}, True),
    "highs": ("highs", {}, True),
    "highspy-warm": ("highspy-warm", {}, True),
    "cvxpy": ("cvxpy", {}, True),
}
DEFAULT_SOLVERS = ["batched", "quantreg-fn", "quantreg-fn-thesis", "quantreg-br", "highs",
                   "highspy-warm", "cvxpy"]


@dataclass
class Case:
    name: str
    eps: float
    problems: list  # [(A, B, T)] sharing-A batches; T = true repaired values A V
    tol: float


def colon_case(eps: float, seed: int, synthetic: bool, m: int = 2000, genes: int = 1000,
               x_path: Path = COLON_X) -> Case:
    rng = np.random.default_rng([seed, 1, int(eps * 1000)])
    synthetic = synthetic or not x_path.is_file()  # named so in the table
    if synthetic:
        X = rng.standard_normal((62, genes))
    else:
        from modelrepair.designs import load_colon, select_columns

        X, _ = load_colon(x_path, log_transform=True)
        X = select_columns(X, genes, rng)
    A = X.T
    T = A @ (rng.standard_normal((A.shape[1], m)) / np.sqrt(A.shape[1]))
    B = T + (rng.random(T.shape) < eps) * rng.normal(1.0, 1.0, T.shape)
    return Case("colon" + ("-synthetic" if synthetic else ""), eps, [(A, B, T)], 1e-5)


def linear_case(n: int, p: int, eps: float, seed: int, problems: int) -> Case:
    rng = np.random.default_rng([seed, 2, n, p, int(eps * 1000)])
    out = []
    for _ in range(problems):
        X = rng.standard_normal((n, p))
        theta = X.T @ np.linalg.solve(X @ X.T, rng.standard_normal(n))
        b = theta + (rng.random(p) < eps) * rng.normal(1.0, 1.0, p)
        out.append((X.T, b[:, None], theta[:, None]))
    return Case(f"linear-n{n}-p{p}", eps, out, 1e-6)


def run_solver(name: str, A, B):
    backend, opts, _ = SOLVERS[name]
    if backend == "highspy-warm":
        from modelrepair.lad.batched_fallback import solve_highs_warm

        t0 = time.perf_counter()
        U, ok = solve_highs_warm(A, B)
        return U, ok, time.perf_counter() - t0, None
    sol = solve_lad(A, B, solver=backend, **opts)
    cert = float(np.mean(sol.status == "certified"))
    return sol.U, sol.ok, sol.seconds, cert


def measure(case: Case, name: str, sub: int, repeat: int):
    """(seconds for the whole case, U list, ok list, cols list, certified, note)."""
    slow = SOLVERS[name][2]
    total = sum(B.shape[1] for _, B, _ in case.problems)
    times, Us, oks, colss, certs, used = [], [], [], [], [], 0
    for A, B, _ in case.problems:
        if slow and used >= sub:
            Us.append(None), oks.append(None), colss.append(None)
            continue
        cols = np.arange(B.shape[1])
        if slow and B.shape[1] > sub - used:
            cols = np.linspace(0, B.shape[1] - 1, sub - used).astype(int)
        reps = []
        if SOLVERS[name][1].get("device", "cpu") != "cpu":
            run_solver(name, A, B[:, cols])  # warm-up: CUDA context, kernels, allocator
        for _ in range(1 if slow else repeat):
            U, ok, sec, cert = run_solver(name, A, B[:, cols])
            reps.append(sec)
        times.append(statistics.median(reps))
        Us.append(U), oks.append(ok), colss.append(cols), certs.append(cert)
        used += cols.size
    seconds = sum(times) * total / max(used, 1)
    note = f"scaled from {used}/{total}" if used < total else ""
    cert = float(np.mean([c for c in certs if c is not None])) if any(
        c is not None for c in certs) else None
    return seconds, Us, oks, colss, cert, note


def compare(case: Case, ours, base):
    """(agreeing verdicts, compared, max |A u_ours - A u_base|)."""
    agree = n = 0
    dmax = 0.0
    for (A, _, T), Uo, oko, Ub, okb, cols in zip(
        case.problems, ours[1], ours[2], base[1], base[2], base[3], strict=True
    ):
        if Ub is None:
            continue
        Fo = A @ Uo[:, cols]
        Fb = A @ Ub
        both = oko[cols] & okb
        vo = np.max(np.abs(Fo - T[:, cols]), axis=0) <= case.tol
        vb = np.max(np.abs(Fb - T[:, cols]), axis=0) <= case.tol
        agree += int(np.sum(vo[both] == vb[both]))
        n += int(cols.size)
        if both.any():
            dmax = max(dmax, float(np.max(np.abs(Fo[:, both] - Fb[:, both]))))
    return agree, n, dmax


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _machine() -> str:
    """One line: CPU cores, BLAS threads, GPU (if any) -- the table's context."""
    import os

    parts = [f"{os.cpu_count()} CPU cores",
             "OPENBLAS_NUM_THREADS=" + os.environ.get("OPENBLAS_NUM_THREADS", "unset (BLAS default: all cores)")]
    if _cuda_available():
        import torch

        parts.append(f"GPU {torch.cuda.get_device_name(0)}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="small subsamples, colon + linear n=50 p=5000, 1 repeat")
    ap.add_argument("--cases", nargs="+", default=["colon", "linear"],
                    choices=["colon", "linear"])
    ap.add_argument("--eps", nargs="+", type=float, default=[0.1, 0.3, 0.5])
    ap.add_argument("--linear-shapes", nargs="+", default=None,
                    help="n:p pairs (default 50:1000 50:5000 50:10000 100:5000 100:10000)")
    ap.add_argument("--problems", type=int, default=20, help="linear problems per case")
    ap.add_argument("--solvers", nargs="+", default=DEFAULT_SOLVERS, choices=sorted(SOLVERS))
    ap.add_argument("--ours", default=None, choices=[s for s in SOLVERS if s.startswith("batched")],
                    help="the batched variant the ratios refer to (default: batched-cuda when "
                         "torch sees a GPU, else batched)")
    ap.add_argument("--sub", type=int, default=200,
                    help="columns/problems the slow baselines solve (time is scaled)")
    ap.add_argument("--sub-fast-lp", type=int, default=40,
                    help="subsample for highs/highspy/cvxpy (slowest baselines)")
    ap.add_argument("--repeat", type=int, default=3, help="repeats of the batched solver")
    ap.add_argument("--synthetic", action="store_true", help="Gaussian A instead of colon data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--colon-x", type=Path, default=COLON_X,
                    help=f"colon expression CSV (default {COLON_X}; Gaussian if missing)")
    args = ap.parse_args(argv)
    if args.quick:
        args.sub, args.sub_fast_lp, args.repeat, args.problems = 40, 8, 1, 6
        shapes = args.linear_shapes or ["50:5000"]
    else:
        shapes = args.linear_shapes or ["50:1000", "50:5000", "50:10000", "100:5000", "100:10000"]
    ours_name = args.ours or ("batched-cuda" if _cuda_available() else "batched")
    if ours_name == "batched-cuda" and not _cuda_available():
        ap.error("--ours batched-cuda needs torch with a CUDA device; none is visible")
    solvers = [s for s in args.solvers if s != ours_name]
    if ours_name != "batched" and "batched" not in solvers:
        solvers.insert(0, "batched")  # the CPU solver, side by side with the GPU one
    print("# LAD benchmark (noisy shared machine: repeat runs vary; quote medians)")
    print(f"# seed {args.seed}; slow baselines subsampled (time scaled, marked); "
          f"ratio = baseline s / {ours_name} s; {_machine()}")
    print("| case | eps | solver | seconds | ratio | certified | agree | max abs diff | note |")
    print("|---|---|---|---|---|---|---|---|---|")
    cases = []
    for eps in args.eps:
        if "colon" in args.cases:
            cases.append(lambda eps=eps: colon_case(eps, args.seed, args.synthetic,
                                                    x_path=args.colon_x))
        if "linear" in args.cases:
            for s in shapes:
                n, p = (int(v) for v in s.split(":"))
                cases.append(lambda n=n, p=p, eps=eps: linear_case(n, p, eps, args.seed,
                                                                   args.problems))
    for make in cases:
        case = make()
        ours = measure(case, ours_name, 0, args.repeat)
        unit = "layer" if case.name.startswith("colon") else f"{len(case.problems)} problems"
        print(f"| {case.name} | {case.eps} | {ours_name} | {ours[0]:.3f} | 1 | "
              f"{ours[4]:.3f} | | | per {unit} |", flush=True)
        for name in solvers:
            sub = args.sub_fast_lp if SOLVERS[name][0] in ("highs", "highspy-warm", "cvxpy") \
                else args.sub
            try:
                if SOLVERS[name][0] == "batched":
                    base = measure(case, name, 0, args.repeat)
                else:
                    base = measure(case, name, sub, 1)
            except Exception as err:  # noqa: BLE001 - report and go on (e.g. R missing)
                print(f"| {case.name} | {case.eps} | {name} | - | - | | | | {err} |")
                continue
            agree, n, dmax = compare(case, ours, base)
            cert = "" if base[4] is None or not name.startswith("batched") else f"{base[4]:.3f}"
            print(f"| {case.name} | {case.eps} | {name} | {base[0]:.3f} | "
                  f"{base[0] / ours[0]:.1f} | {cert} | {agree}/{n} | {dmax:.1e} | {base[5]} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
