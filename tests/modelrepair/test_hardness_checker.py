"""The checker on fixed small graphs, against hand-computed vertex-cover answers.

Hand answers: minimum vertex cover of path P4 = 2, triangle = 2, star with 3 leaves = 1,
4-cycle = 2, K4 = 3, P3 = 1, two disjoint edges = 2.  The thesis' instance turns out to have
an h-point hyperplane also when k = 1 or k = 2 without such a cover: beta_d = 1 (p* on),
beta_i = 1 for every vertex (all v_i*, all e_ij on: 1 + 1 + 1 = 3), padding betas 0, and then
K (y = |V| + 1 when k = 1) or K* (y = |V| + k - 1 = |V| + 1 when k = 2) is on too.
The assertions below pin both the vertex-cover answers and that behaviour.
"""

from __future__ import annotations

import csv
from fractions import Fraction

import pytest

from modelrepair.hardness.checker import check_one, run_check, summary_table, write_csv
from modelrepair.hardness.graphs import Graph, complete, cycle, path, star
from modelrepair.hardness.vertex_cover import has_vertex_cover, min_vertex_cover

FIXED = [(path(3), 1), (path(4), 2), (complete(3), 2), (star(3), 1), (cycle(4), 2),
         (complete(4), 3), (Graph(4, ((0, 1), (2, 3))), 2)]


@pytest.mark.parametrize("graph,tau", FIXED)
def test_min_vertex_cover_hand_values(graph, tau):
    cover = min_vertex_cover(graph)
    assert len(cover) == tau
    assert all(i in cover or j in cover for i, j in graph.edges)
    for k in range(0, graph.n_vertices + 2):
        assert has_vertex_cover(graph, k) == (k >= tau)
        assert has_vertex_cover(graph, k, exact_size=True) == (tau <= k <= graph.n_vertices)


@pytest.mark.parametrize("c", ["0.25", "0.5", "0.75"])
def test_checker_on_fixed_graphs(c):
    graphs = [g for g, _ in FIXED]
    rows = run_check(graphs, [c])
    tau = {g.describe(): t for g, t in FIXED}
    assert len(rows) == sum(g.n_vertices for g in graphs)
    for r in rows:
        t = tau[r.graph]
        assert r.min_cover == t
        assert r.vc_at_most_k == (r.k >= t) == r.vc_exactly_k
        assert r.status == "optimal" and r.max_on_plane == r.upper_bound <= r.h
        # c = 1/4, 1/2, 3/4 need no rounding: the c-DPS threshold is h itself
        assert r.threshold == r.h and Fraction(r.realised_c) == Fraction(c)
        assert r.dps_h == (r.k >= t or r.k <= 2)
        assert r.agree == (r.k >= t or r.k > 2)
        if not r.agree:
            assert r.beta_d == "1" and r.certificate.startswith("beta=[" + ",".join(["1"] * r.n_vertices))
    bad = {(r.graph, r.k) for r in rows if not r.agree}
    assert bad == {("n=3 E=[(0,1),(0,2),(1,2)]", 1), ("n=4 E=[(0,1),(1,2),(2,3)]", 1),
                   ("n=4 E=[(0,1),(0,3),(1,2),(2,3)]", 1), ("n=4 E=[(0,1),(2,3)]", 1),
                   (complete(4).describe(), 1), (complete(4).describe(), 2)}


def test_variant_pstar_minus_one_agrees_on_fixed_graphs():
    rows = run_check([g for g, _ in FIXED], ["0.5"], variant="pstar_minus_one")
    assert all(r.agree and r.agree == (r.dps_h == r.vc_at_most_k) for r in rows)


def test_rounded_c_threshold_columns():
    # c = 3/5 on the triangle: n = 2*8 + 4 = 20, h = 8, ceil(0.4 * 20) = 8: no rounding loss;
    # on P3 (m = 7): n = 18, h = 7 but ceil(0.4 * 18) = 8 > h, so Definition 5.1 says "no".
    r = check_one(path(3), 3, "0.6")
    assert (r.h, r.n, r.threshold, r.max_on_plane) == (7, 18, 8, 7)
    assert r.dps_h is True and r.dps_threshold is False
    assert r.agree is True and r.agree_threshold is False


def test_summary_and_csv(tmp_path):
    rows = run_check([complete(3)], ["0.5"])
    text = summary_table(rows)
    assert "k=1 min_cover=2 VC=False DPS=True beta_d=1: 1 / 1" in text
    out = tmp_path / "h.csv"
    write_csv(rows, out)
    got = list(csv.DictReader(out.open()))
    assert [(g["k"], g["agree"]) for g in got] == [("1", "False"), ("2", "True"), ("3", "True")]


def test_variant_repaired_agrees_on_both_criteria_with_rounding():
    # c = 3/5 rounds eta for P3 (m = 7) and the triangle (m = 8 is exact)
    rows = run_check([path(3), complete(3), complete(4)], ["0.6"], variant="repaired")
    assert all(r.threshold == r.h and r.agree and r.agree_threshold for r in rows)
    assert [r.eta for r in rows if r.graph == path(3).describe()] == [3, 3, 3]  # floor(3.5)
