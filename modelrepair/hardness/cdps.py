"""Exact c-DPS: the most points one non-vertical hyperplane y = beta.x + beta_d passes through.

Both solvers first apply an exact *free-point elimination*: if coordinate j is non-zero in
exactly one remaining point i, then beta_j can always be chosen to put i on the hyperplane
and appears in no other equation, so  opt = 1 + opt(instance without i and j).  (The thesis'
padding points p_l are all eliminated this way.)  Identical points are merged with a weight.

* `solve_mip`: binary z_u per distinct point; points sharing x (and differing in y) cannot
  share a non-vertical hyperplane, so per distinct x (a group g, t_g = a_g.w) at most one z_u
  is 1 and |t_g - sum_u b_u z_u| <= M_g (1 - sum_u z_u); maximise sum weight_u z_u with
  scipy.optimize.milp (HiGHS, mip_rel_gap=0).
  Big-M: rows are scaled to integers per group, a_g = L_g (x_g, 1), b_u = L_g y_u.  If some
  hyperplane passes through a set S, so does a basic one: w_C = A_{R,C}^{-1} b_R for
  independent rows R of S (necessarily from distinct groups) and independent columns C, other
  w_j = 0.  By Cramer's rule, |det A_{R,C}| >= 1 (integers) and, expanding the numerator along
  the b column and bounding each minor by Hadamard's inequality, |w_j| <= B := (sum of the r
  largest max_u |b_u| over groups) * ceil(sqrt(product of the r - 1 largest ||a_g||_2^2)),
  r = min(#groups, #columns).  Hence the bounds |w_j| <= B and M_g = ||a_g||_1 B (which allows
  any t_g when no point of g is chosen) lose no optimum.
  The selected points are then re-solved EXACTLY (Fraction Gaussian elimination), the full
  beta is reconstructed and every point is counted exactly; ``count`` is that verified number,
  ``upper_bound`` the MIP's proven bound; status "optimal" iff they are equal.
* `solve_bruteforce`: every independent set of rank(A) distinct points (each defines one
  hyperplane; every optimal point set lies on one of them), solved and counted exactly.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

from modelrepair.hardness.rational import RowBasis
from modelrepair.hardness.reduction import Hyperplane

Points = Sequence[Sequence[Fraction]]


@dataclass(frozen=True)
class CdpsSolution:
    """Certified result: ``count`` points (indices ``on``) lie exactly on ``hyperplane``."""

    count: int
    upper_bound: int
    hyperplane: Hyperplane
    on: tuple[int, ...]
    method: str
    status: str  # "optimal" (count == upper_bound) | "gap" | "time_limit"
    seconds: float
    n_free: int
    big_m: float = 0.0


@dataclass(frozen=True)
class _Reduced:
    cols: tuple[int, ...]  # kept coordinate indices
    steps: tuple[tuple[int, int], ...]  # (point, coordinate) free eliminations, in order
    rows: tuple[tuple[Fraction, ...], ...]  # distinct kept points: x on cols, then 1 (intercept)
    rhs: tuple[Fraction, ...]
    weight: tuple[int, ...]
    members: tuple[tuple[int, ...], ...]


def _reduce(points: Points, y: Sequence[Fraction], eliminate_free: bool) -> _Reduced:
    n = len(points)
    dim = len(points[0]) if n else 0
    pts = set(range(n))
    cols = set(range(dim))
    steps: list[tuple[int, int]] = []
    changed = eliminate_free
    while changed:
        changed = False
        for j in sorted(cols):
            nz = [i for i in pts if points[i][j] != 0]
            if len(nz) <= 1:
                cols.discard(j)
                if nz:
                    steps.append((nz[0], j))
                    pts.discard(nz[0])
                changed = True
    keep_cols = tuple(sorted(cols))
    groups: dict[tuple, list[int]] = {}
    for i in sorted(pts):
        key = (tuple(points[i][j] for j in keep_cols), y[i])
        groups.setdefault(key, []).append(i)
    rows = tuple(key[0] + (Fraction(1),) for key in groups)
    return _Reduced(keep_cols, tuple(steps), rows, tuple(key[1] for key in groups),
                    tuple(len(v) for v in groups.values()), tuple(tuple(v) for v in groups.values()))


def _full_hyperplane(points: Points, y: Sequence[Fraction], red: _Reduced,
                     w: Sequence[Fraction]) -> Hyperplane:
    """Extend a solution w (kept coordinates, then intercept) through the eliminated points."""
    dim = len(points[0]) if points else 0
    beta = [Fraction(0)] * dim
    for j, wj in zip(red.cols, w[:-1], strict=True):
        beta[j] = wj
    beta_d = w[-1]
    for i, j in reversed(red.steps):
        rest = sum((points[i][c] * beta[c] for c in range(dim) if c != j and points[i][c]),
                   Fraction(0))
        beta[j] = (y[i] - rest - beta_d) / points[i][j]
    return Hyperplane(tuple(beta), beta_d)


def _finish(points, y, red, w, method, upper_reduced, status, t0, big_m=0.0) -> CdpsSolution:
    hp = _full_hyperplane(points, y, red, w)
    on = hp.on(tuple(tuple(p) for p in points), tuple(y))
    upper = upper_reduced + len(red.steps)
    if status == "optimal" and len(on) != upper:
        status = "gap"
    return CdpsSolution(len(on), upper, hp, on, method, status, time.perf_counter() - t0,
                        len(red.steps), big_m)


def _count_reduced(red: _Reduced, w: Sequence[Fraction]) -> int:
    return sum(wt for row, b, wt in zip(red.rows, red.rhs, red.weight, strict=True)
               if sum((a * wi for a, wi in zip(row, w, strict=True) if a), Fraction(0)) == b)


def solve_bruteforce(points: Points, y: Sequence[Fraction], *, eliminate_free: bool = True,
                     max_subsets: int = 2_000_000) -> CdpsSolution:
    """Exact optimum by enumerating all rank(A)-subsets of distinct points (tiny instances)."""
    t0 = time.perf_counter()
    red = _reduce(points, y, eliminate_free)
    ncols = len(red.cols) + 1
    U = len(red.rows)
    full = RowBasis(ncols)
    for row in red.rows:
        full.add(row, Fraction(0))
    r = full.rank
    if math.comb(U, r) > max_subsets:
        raise ValueError(f"brute force needs C({U},{r}) = {math.comb(U, r)} subsets "
                         f"> max_subsets={max_subsets}")
    best_w: list[Fraction] = [Fraction(0)] * ncols
    best = _count_reduced(red, best_w) if U == 0 else -1
    xgroup: dict[tuple, int] = {}
    gid = [xgroup.setdefault(row, len(xgroup)) for row in red.rows]
    for combo in itertools.combinations(range(U), r):
        if len({gid[u] for u in combo}) < r:  # two points with equal x: rows dependent
            continue
        basis = RowBasis(ncols)
        if all(basis.add(red.rows[u], red.rhs[u]) == "independent" for u in combo):
            w = basis.solution()
            cnt = _count_reduced(red, w)
            if cnt > best:
                best, best_w = cnt, w
    return _finish(points, y, red, best_w, "bruteforce", max(best, 0), "optimal", t0)


@contextmanager
def _quiet_c_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (HiGHS' C++ code prints debug lines such as
    "transformNewIntegerFeasibleSolution tmpSolver.run();" straight to it)."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no usable fd 1: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


@dataclass(frozen=True)
class _Groups:
    """Distinct points grouped by x; rows scaled to integers per group (L_g = lcm of the
    denominators of x_g and of every y in the group)."""

    members: tuple[tuple[int, ...], ...]  # indices into red.rows
    a: tuple[tuple[int, ...], ...]  # L_g (x_g, 1)
    b: tuple[tuple[int, ...], ...]  # L_g y_u for u in the group


def _groups(red: _Reduced) -> _Groups:
    by_x: dict[tuple, list[int]] = {}
    for u, row in enumerate(red.rows):
        by_x.setdefault(row, []).append(u)
    members, A, B = [], [], []
    for row, us in by_x.items():
        L = math.lcm(*(q.denominator for q in row), *(red.rhs[u].denominator for u in us))
        members.append(tuple(us))
        A.append(tuple(int(q * L) for q in row))
        B.append(tuple(int(red.rhs[u] * L) for u in us))
    return _Groups(tuple(members), tuple(A), tuple(B))


def big_m_bound(g: _Groups, n_cols: int) -> tuple[int, list[int]]:
    """(B, [M_g]): bound on |w_j| of a basic optimal solution, big-M per x-group (module doc)."""
    r = min(len(g.a), n_cols)
    norms2 = sorted((sum(v * v for v in a) for a in g.a), reverse=True)[: max(r - 1, 0)]
    sb = sum(sorted((max(abs(v) for v in b) for b in g.b), reverse=True)[:r])
    p2 = math.prod(norms2)
    root = math.isqrt(p2)
    root += root * root < p2
    B = max(sb * root, 1)
    return B, [sum(abs(v) for v in a) * B for a in g.a]


def solve_mip(points: Points, y: Sequence[Fraction], *, eliminate_free: bool = True,
              time_limit: float | None = None) -> CdpsSolution:
    """Exact optimum by big-M MILP (HiGHS) plus exact rational verification (module doc).

    Per x-group g (value t_g = a_g.w, binaries z_u for its distinct y's, sum_u z_u <= 1):
    |t_g - sum_u b_u z_u| <= M_g (1 - sum_u z_u), M_g = ||a_g||_1 B: if one z_u = 1 the point
    u is on the hyperplane, if none is chosen t_g is only bounded by |w_j| <= B.
    """
    t0 = time.perf_counter()
    red = _reduce(points, y, eliminate_free)
    U, q = len(red.rows), len(red.cols) + 1
    if U == 0:
        return _finish(points, y, red, [Fraction(0)] * q, "mip", 0, "optimal", t0)
    g = _groups(red)
    B, M = big_m_bound(g, q)
    rows, lo, hi = [], [], []
    for us, a, b, Mg in zip(g.members, g.a, g.b, M, strict=True):
        zc = np.zeros(U)
        zc[list(us)] = b
        zm = np.zeros(U)
        zm[list(us)] = Mg
        af = np.array(a, dtype=float)
        rows.append(np.concatenate([af, -zc + zm]))  # t - b.z + M sum z <= M
        rows.append(np.concatenate([-af, zc + zm]))  # -t + b.z + M sum z <= M
        lo += [-np.inf, -np.inf]
        hi += [float(Mg), float(Mg)]
        if len(us) > 1:
            ones = np.zeros(U)
            ones[list(us)] = 1.0
            rows.append(np.concatenate([np.zeros(q), ones]))
            lo.append(-np.inf)
            hi.append(1.0)
    cons = LinearConstraint(np.array(rows), np.array(lo), np.array(hi))
    cost = np.concatenate([np.zeros(q), -np.array(red.weight, dtype=float)])
    integrality = np.concatenate([np.zeros(q), np.ones(U)])
    bounds = Bounds(np.concatenate([np.full(q, -float(B)), np.zeros(U)]),
                    np.concatenate([np.full(q, float(B)), np.ones(U)]))
    opts: dict = {"mip_rel_gap": 0.0, "presolve": False}
    if time_limit is not None:
        opts["time_limit"] = time_limit
    with _quiet_c_stdout():
        res = milp(cost, constraints=cons, integrality=integrality, bounds=bounds, options=opts)
    if res.x is None:
        raise RuntimeError(f"milp returned no solution: status {res.status}: {res.message}")
    dual = getattr(res, "mip_dual_bound", None)
    if dual is None or not np.isfinite(dual):
        dual = res.fun
    upper = math.floor(-dual + 1e-6)
    status = "optimal" if res.status == 0 else "time_limit"
    wf, zf = res.x[:q], res.x[q:]
    # exact re-solve of the selected points, best-fitting first; drop any that contradict
    chosen = [u for u in range(U) if zf[u] > 0.5]
    xf = np.array([[float(v) for v in row] for row in red.rows])
    rf = np.array([float(v) for v in red.rhs])
    chosen.sort(key=lambda u: abs(xf[u] @ wf - rf[u]))
    basis = RowBasis(q)
    for u in chosen:
        basis.add(red.rows[u], red.rhs[u])
    return _finish(points, y, red, basis.solution(), "mip", upper, status, t0, float(max(M)))
