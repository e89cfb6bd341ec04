"""The thesis' reduction: counts, coordinates, y values and Lemma 5.2's cover hyperplane."""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

from modelrepair.errors import SpecError
from modelrepair.hardness.graphs import Graph, complete, cycle, path, star
from modelrepair.hardness.reduction import cover_hyperplane, reduce_vertex_cover
from modelrepair.hardness.vertex_cover import is_vertex_cover

# (graph, c, zeta, eta, d, n, h) worked by hand from the thesis' formulas, m = |V| + |E| + 2
CASES = [
    (path(3), "0.25", 14, 0, 18, 28, 21),  # m=7: zeta = 2 ceil(1 * 7)
    (path(3), "0.5", 0, 0, 4, 14, 7),
    (path(3), "0.75", 0, 14, 4, 28, 7),  # eta = ceil(2 * 7)
    (path(3), "0.3", 10, 0, 14, 24, 17),  # zeta = 2 ceil(2/3 * 7) = 2 * 5
    (path(3), "0.6", 0, 4, 4, 18, 7),  # eta = ceil(1/2 * 7)
    (complete(4), "0.25", 24, 0, 29, 48, 36),  # m=12
    (complete(4), "0.6", 0, 6, 5, 30, 12),
    (complete(4), "0.1", 96, 0, 101, 120, 108),  # zeta = 2 ceil(4 * 12)
    (complete(4), "0.9", 0, 96, 5, 120, 12),  # eta = ceil(8 * 12)
    (Graph(5, ()), "0.4", 4, 0, 10, 18, 11),  # m=7: zeta = 2 ceil(1/4 * 7)
]


@pytest.mark.parametrize("graph,c,zeta,eta,d,n,h", CASES)
def test_counts_match_thesis_formulas(graph, c, zeta, eta, d, n, h):
    red = reduce_vertex_cover(graph, 2, c)
    assert (red.zeta, red.eta, red.d, red.n, red.h) == (zeta, eta, d, n, h)
    assert len(red.points) == len(red.y) == len(red.labels) == n
    assert all(len(p) == d - 1 for p in red.points)
    assert red.x_float.shape == (n, d - 1) and red.y_float.shape == (n,)
    assert red.c == Fraction(c)
    assert red.realised_c == 1 - Fraction(h, n)
    kinds = [lab.split("_")[0].rstrip("*") if lab[0] in "Kp" else lab[0] for lab in red.labels]
    assert kinds.count("v") == 2 * graph.n_vertices
    assert kinds.count("e") == 2 * graph.n_edges
    assert kinds.count("K") == 2 + eta
    assert kinds.count("p") == 2 + zeta


def test_realised_fraction_and_threshold_with_rounding():
    red = reduce_vertex_cover(path(3), 1, 0.3)  # float read as 3/10
    assert red.c == Fraction(3, 10)
    assert red.realised_c == Fraction(7, 24)  # 1 - 17/24 <= c
    assert red.cdps_threshold == 17  # ceil(0.7 * 24) = ceil(16.8)
    red = reduce_vertex_cover(path(3), 1, "0.6")
    assert red.realised_c == Fraction(11, 18)  # >= c
    assert red.cdps_threshold == 8  # ceil(0.4 * 18) = ceil(7.2) > h = 7


def test_coordinates_and_values():
    g = Graph(3, ((0, 2),))
    red = reduce_vertex_cover(g, 2, "0.3")  # m = 6, zeta = 2 ceil(2/3*6) = 8, eta = 0
    pts = dict(zip(red.labels, zip(red.points, red.y, strict=True), strict=True))
    z = [Fraction(0)] * (3 + 8)

    def vec(*ones):
        v = list(z)
        for i in ones:
            v[i] = Fraction(1)
        return tuple(v)

    assert pts["v1"] == (vec(1), 1) and pts["v1*"] == (vec(1), 2)
    assert pts["e0-2"] == (vec(0, 2), 3) and pts["e0-2*"] == (vec(0, 2), 4)
    assert pts["K"] == (vec(0, 1, 2), 5) and pts["K*"] == (vec(0, 1, 2), 4)
    assert pts["p"] == (vec(), 0) and pts["p*"] == (vec(), 1)
    assert pts["p_1"] == (vec(3), 1) and pts["p_8"] == (vec(10), 1)
    red = reduce_vertex_cover(g, 2, "0.75")  # eta = ceil(2 * 6) = 12
    pts = dict(zip(red.labels, zip(red.points, red.y, strict=True), strict=True))
    assert pts["K_1"][1] == -1 and pts["K_12"][1] == -12 and "K_13" not in pts
    assert pts["K_5"][0] == (Fraction(1),) * 3


@pytest.mark.parametrize("c", [0, 1, -0.5, 1.5])
def test_c_outside_open_interval_is_rejected(c):
    with pytest.raises(SpecError, match="c"):
        reduce_vertex_cover(path(2), 1, c)


@pytest.mark.parametrize("graph", [path(4), complete(3), star(3), cycle(4), complete(4)])
@pytest.mark.parametrize("c", ["0.25", "0.5", "0.75"])
def test_cover_hyperplane_passes_through_exactly_h_points(graph, c):
    """Lemma 5.2: every vertex cover of size exactly k gives exactly h points (exact check);
    a non-cover of size k gives fewer (an uncovered edge loses e_ij and e_ij*)."""
    nv = graph.n_vertices
    for k in range(1, nv + 1):
        red = reduce_vertex_cover(graph, k, c)
        pts, ys = red.points, red.y
        for cand in itertools.combinations(range(nv), k):
            s = set(cand)
            hp = cover_hyperplane(red, s)
            on = hp.on(pts, ys)
            if is_vertex_cover(graph, s):
                assert len(on) == red.h
                labels = {red.labels[i] for i in on}
                assert "K" in labels and "p" in labels and "K*" not in labels
                assert all((f"v{i}*" in labels) == (i in s) for i in range(nv))
            else:
                assert len(on) < red.h


def test_threshold_vs_h_over_a_grid_of_c_and_m():
    """ceil((1-c) n) == h for every c < 1/2; for c > 1/2 it is h + 1 unless (2c-1)m/(1-c) is an
    integer; with eta rounded down (variant "repaired") it is h for every c."""
    import math

    from modelrepair.hardness.reduction import padding_counts

    for num in range(1, 100):
        c = Fraction(num, 100)
        if c == Fraction(1, 2):
            continue
        for m in range(3, 40):
            for floor in (False, True):
                zeta, eta = padding_counts(m - 2, 0, c, eta_floor=floor)
                n, h = 2 * m + zeta + eta, m + zeta
                exact = ((2 * c - 1) * m / (1 - c)).denominator == 1
                want = h + 1 if (c > Fraction(1, 2) and not exact and not floor) else h
                assert math.ceil((1 - c) * n) == want, (c, m, floor)
