"""Exact c-DPS solvers: rational algebra, MILP vs brute force, certificates."""

from __future__ import annotations

from fractions import Fraction as F

import numpy as np
import pytest

from modelrepair.hardness.cdps import solve_bruteforce, solve_mip
from modelrepair.hardness.graphs import Graph, complete, path
from modelrepair.hardness.rational import RowBasis, rank
from modelrepair.hardness.reduction import reduce_vertex_cover


def test_rowbasis_solves_and_classifies():
    b = RowBasis(3)
    assert b.add([F(1), F(1), F(0)], F(3)) == "independent"
    assert b.add([F(0), F(2), F(1)], F(5)) == "independent"
    assert b.add([F(2), F(4), F(1)], F(11)) == "implied"  # 2*r1 + r2
    assert b.add([F(2), F(4), F(1)], F(12)) == "inconsistent"
    assert b.add([F(1), F(0), F(1, 2)], F(1)) == "independent"
    w = b.solution()
    assert w[0] + w[1] == 3 and 2 * w[1] + w[2] == 5 and w[0] + w[2] / 2 == 1
    assert rank([[F(1), F(2)], [F(2), F(4)], [F(0), F(0)]]) == 1


def test_known_line_with_outliers():
    # five points on y = 2x + 1, three off it, one duplicate of an on-line point
    xs = [0, 1, 2, 3, 4, 1, 2, 5, 3]
    ys = [1, 3, 5, 7, 9, 0, 1, 0, 7]
    pts = [(F(x),) for x in xs]
    yq = [F(v) for v in ys]
    for sol in (solve_mip(pts, yq), solve_bruteforce(pts, yq)):
        assert sol.count == 6 and sol.upper_bound == 6 and sol.status == "optimal"
        assert sol.hyperplane.beta == (F(2),) and sol.hyperplane.beta_d == F(1)
        assert sol.on == (0, 1, 2, 3, 4, 8)


def test_free_point_elimination_reconstructs_beta():
    # coordinate 1 is used only by point 3: it can always be put on the hyperplane
    pts = [(F(0), F(0)), (F(1), F(0)), (F(2), F(0)), (F(1), F(3)), (F(1), F(0))]
    y = [F(0), F(1), F(2), F(10), F(5)]
    for sol in (solve_mip(pts, y), solve_bruteforce(pts, y)):
        assert sol.count == 4 and sol.n_free == 1
        assert sol.hyperplane.beta == (F(1), F(3)) and sol.hyperplane.beta_d == 0
        assert sol.on == (0, 1, 2, 3)


def _random_instance(rng, n, dim):
    """Small integer points, some forced onto one random rational hyperplane."""
    X = rng.integers(-2, 3, size=(n, dim))
    beta = rng.integers(-3, 4, size=dim)
    y = rng.integers(-4, 5, size=n).astype(object)
    on = rng.random(n) < 0.5
    y[on] = X[on] @ beta + 1
    pts = [tuple(F(int(v)) for v in row) for row in X]
    return pts, [F(int(v)) for v in y]


@pytest.mark.parametrize("seed", range(12))
def test_mip_agrees_with_bruteforce_on_random_tiny_instances(seed):
    rng = np.random.default_rng(seed)
    n, dim = int(rng.integers(5, 10)), int(rng.integers(1, 4))
    pts, y = _random_instance(rng, n, dim)
    brute = solve_bruteforce(pts, y, eliminate_free=False)
    brute_el = solve_bruteforce(pts, y)
    mip = solve_mip(pts, y)
    mip_raw = solve_mip(pts, y, eliminate_free=False)
    assert mip.count == mip_raw.count == brute.count == brute_el.count
    assert mip.status == "optimal" and mip.upper_bound == mip.count
    for sol in (mip, mip_raw, brute, brute_el):  # certificates re-checked independently
        hp = sol.hyperplane
        on = [i for i, (p, yi) in enumerate(zip(pts, y, strict=True))
              if sum(b * x for b, x in zip(hp.beta, p, strict=True)) + hp.beta_d == yi]
        assert tuple(on) == sol.on


@pytest.mark.parametrize("graph,k,c", [(path(2), 1, "0.5"), (path(2), 2, "0.6"),
                                       (Graph(2, ()), 1, "0.75"), (complete(3), 1, "0.5"),
                                       (path(3), 2, "0.3")])
def test_mip_agrees_with_bruteforce_on_tiny_reductions(graph, k, c):
    red = reduce_vertex_cover(graph, k, c)
    mip, brute = solve_mip(red.points, red.y), solve_bruteforce(red.points, red.y)
    assert mip.count == brute.count == red.h  # all these instances reach h (see checker)
    assert mip.n_free == red.zeta
