"""Hardness of robust estimation: the thesis' vertex cover -> c-DPS reduction (section 5),
exact c-DPS solvers (MILP with exact rational verification; brute force), exact minimum
vertex cover, and a checker comparing the two sides of the reduction on small graphs."""

from modelrepair.hardness.cdps import CdpsSolution, solve_bruteforce, solve_mip
from modelrepair.hardness.graphs import Graph, random_graph
from modelrepair.hardness.reduction import (
    CdpsReduction,
    Hyperplane,
    cover_hyperplane,
    reduce_vertex_cover,
)
from modelrepair.hardness.vertex_cover import has_vertex_cover, min_vertex_cover

__all__ = [
    "CdpsReduction", "CdpsSolution", "Graph", "Hyperplane", "cover_hyperplane",
    "has_vertex_cover", "min_vertex_cover", "random_graph", "reduce_vertex_cover",
    "solve_bruteforce", "solve_mip",
]
