"""Computational check of Theorem 5.1's reduction: for (G, k, c) compare

    VC:   G has a vertex cover of size <= k  (Lemma 5.3's reading; for 1 <= k <= |V| the
          same as Definition 5.2's "size exactly k", both are recorded)
    DPS:  the constructed instance has a non-vertical hyperplane through >= h points

using the exact minimum vertex cover and the exact (verified) c-DPS optimum.  Also recorded:
the answer of Definition 5.1 itself at the requested c, i.e. >= ceil((1 - c) n) points, which
differs from ">= h" whenever rounding makes the realised fraction 1 - h/n differ from c.
"""

from __future__ import annotations

import csv
import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from modelrepair.hardness.cdps import solve_bruteforce, solve_mip
from modelrepair.hardness.graphs import Graph, random_graph
from modelrepair.hardness.reduction import Variant, reduce_vertex_cover
from modelrepair.hardness.vertex_cover import has_vertex_cover, min_vertex_cover


@dataclass(frozen=True)
class CheckRow:
    """One (graph, k, c) comparison.  ``dps_h`` is None if the solver left it undecided."""

    graph: str
    n_vertices: int
    n_edges: int
    min_cover: int
    k: int
    c: str
    variant: str
    n: int
    d: int
    h: int
    zeta: int
    eta: int
    realised_c: str
    threshold: int  # ceil((1 - c) n)
    max_on_plane: int
    upper_bound: int
    status: str
    vc_at_most_k: bool
    vc_exactly_k: bool
    dps_h: bool | None
    dps_threshold: bool | None
    agree: bool | None  # vc_at_most_k == dps_h
    agree_threshold: bool | None  # vc_at_most_k == dps_threshold
    beta_d: str
    certificate: str
    certificate_points: str
    seconds: float


def _decide(count: int, upper: int, target: int) -> bool | None:
    if count >= target:
        return True
    if upper < target:
        return False
    return None


def _fmt(q: Fraction) -> str:
    return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"


def check_one(graph: Graph, k: int, c: object, *, variant: Variant = "thesis",
              solver: str = "mip") -> CheckRow:
    """Reduce (graph, k, c), solve c-DPS exactly, compare with the exact vertex-cover answer."""
    red = reduce_vertex_cover(graph, k, c, variant)
    solve = {"mip": solve_mip, "bruteforce": solve_bruteforce}[solver]
    sol = solve(red.points, red.y)
    vc = has_vertex_cover(graph, k)
    dps_h = _decide(sol.count, sol.upper_bound, red.h)
    dps_t = _decide(sol.count, sol.upper_bound, red.cdps_threshold)
    return CheckRow(
        graph=graph.describe(), n_vertices=graph.n_vertices, n_edges=graph.n_edges,
        min_cover=len(min_vertex_cover(graph)), k=k, c=_fmt(red.c), variant=variant,
        n=red.n, d=red.d, h=red.h, zeta=red.zeta, eta=red.eta,
        realised_c=_fmt(red.realised_c), threshold=red.cdps_threshold,
        max_on_plane=sol.count, upper_bound=sol.upper_bound, status=sol.status,
        vc_at_most_k=vc, vc_exactly_k=has_vertex_cover(graph, k, exact_size=True),
        dps_h=dps_h, dps_threshold=dps_t,
        agree=None if dps_h is None else dps_h == vc,
        agree_threshold=None if dps_t is None else dps_t == vc,
        beta_d=_fmt(sol.hyperplane.beta_d),
        certificate=sol.hyperplane.describe(graph.n_vertices),
        certificate_points=" ".join(red.labels[i] for i in sol.on if not red.labels[i].startswith("p_")),
        seconds=sol.seconds,
    )


def random_graphs(sizes: Sequence[int], densities: Sequence[float], per_cell: int,
                  seed: int, *, distinct: bool = True) -> list[Graph]:
    """``per_cell`` G(n, p) graphs for every (n, p), from one seeded generator.

    ``distinct``: skip a draw whose (n, edge set) was already taken (up to 20 * per_cell
    draws per cell), so small sizes give fewer graphs rather than repeats.
    """
    rng = np.random.default_rng(seed)
    out: list[Graph] = []
    seen: set[tuple] = set()
    for n in sizes:
        for p in densities:
            got = 0
            for _ in range(20 * per_cell if distinct else per_cell):
                g = random_graph(n, p, rng)
                key = (g.n_vertices, g.edges)
                if distinct and key in seen:
                    continue
                seen.add(key)
                out.append(g)
                got += 1
                if got == per_cell:
                    break
    return out


def run_check(graphs: Iterable[Graph], cs: Sequence[object], *, variant: Variant = "thesis",
              solver: str = "mip", progress: Callable[[Iterable], Iterable] | None = None
              ) -> list[CheckRow]:
    """check_one for every graph, every k in 1..|V| and every c."""
    tasks = [(g, k, c) for g in graphs for k in range(1, g.n_vertices + 1) for c in cs]
    it = progress(tasks) if progress is not None else tasks
    return [check_one(g, k, c, variant=variant, solver=solver) for g, k, c in it]


def _tally(rows: Sequence[CheckRow], key: str) -> tuple[int, int, int]:
    vals = Counter(getattr(r, key) for r in rows)
    return vals[True], vals[False], vals[None]


def summary_table(rows: Sequence[CheckRow]) -> str:
    """Per-c table of agreements, then the disagreement pattern by (k, min cover)."""
    out = [f"{'c':>6} {'realised_c':>18} {'instances':>9} {'agree':>6} {'disagree':>8} "
           f"{'undecided':>9} | {'agree@ceil((1-c)n)':>18} {'disagree@ceil':>13}"]
    by_c: dict[str, list[CheckRow]] = defaultdict(list)
    for r in rows:
        by_c[r.c].append(r)
    for c, rs in list(by_c.items()) + [("all", list(rows))]:
        a, d, u = _tally(rs, "agree")
        at, dt, _ = _tally(rs, "agree_threshold")
        real = sorted({r.realised_c for r in rs}, key=lambda s: Fraction(s))
        real_s = real[0] if len(real) == 1 else f"{len(real)} values"
        out.append(f"{c:>6} {real_s:>18} {len(rs):>9} {a:>6} {d:>8} {u:>9} | {at:>18} {dt:>13}")
    pattern: Counter = Counter()
    totals: Counter = Counter()
    for r in rows:
        totals[(r.k, r.min_cover)] += 1
        if r.agree is False:
            pattern[(r.k, r.min_cover, r.vc_at_most_k, r.dps_h, r.beta_d)] += 1
    if pattern:
        out.append("")
        out.append("disagreement pattern (>= h criterion): k, min cover, VC answer, DPS answer, "
                   "certificate beta_d: count / instances with that (k, min cover)")
        for (k, tau, vc, dps, bd), cnt in sorted(pattern.items()):
            out.append(f"  k={k} min_cover={tau} VC={vc} DPS={dps} beta_d={bd}: "
                       f"{cnt} / {totals[(k, tau)]}")
    return "\n".join(out)


def disagreement_lines(rows: Sequence[CheckRow], limit: int | None = None) -> list[str]:
    bad = [r for r in rows if r.agree is not True]
    lines = [f"k={r.k} c={r.c} {r.graph} min_cover={r.min_cover} VC={r.vc_at_most_k} "
             f"DPS={r.dps_h} max={r.max_on_plane}/h={r.h} {r.certificate} "
             f"on: {r.certificate_points}" for r in bad[:limit]]
    if limit is not None and len(bad) > limit:
        lines.append(f"... {len(bad) - limit} more (see the CSV)")
    return lines


def write_csv(rows: Sequence[CheckRow], path: str | Path) -> None:
    fields = [f.name for f in dataclasses.fields(CheckRow)]
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow(dataclasses.asdict(r))
