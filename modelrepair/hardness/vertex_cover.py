"""Exact minimum vertex cover of small graphs by enumeration in order of size."""

from __future__ import annotations

import itertools

from modelrepair.hardness.graphs import Graph


def is_vertex_cover(graph: Graph, cover: frozenset[int] | set[int]) -> bool:
    return all(i in cover or j in cover for i, j in graph.edges)


def min_vertex_cover(graph: Graph) -> frozenset[int]:
    """A minimum vertex cover (smallest size first, lexicographically first among those)."""
    for size in range(graph.n_vertices + 1):
        for cand in itertools.combinations(range(graph.n_vertices), size):
            s = frozenset(cand)
            if is_vertex_cover(graph, s):
                return s
    raise AssertionError("V itself is always a vertex cover")


def has_vertex_cover(graph: Graph, k: int, *, exact_size: bool = False) -> bool:
    """Is there a cover with |V'| <= k (``exact_size``: |V'| == k, Definition 5.2's wording)?

    Supersets of covers are covers, so the two readings agree for every 0 <= k <= |V|.
    """
    tau = len(min_vertex_cover(graph))
    if exact_size:
        return tau <= k <= graph.n_vertices
    return tau <= k
