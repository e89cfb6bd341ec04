"""Small simple undirected graphs: vertices 0..n-1, edges as sorted pairs (i < j)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Graph:
    """A simple undirected graph on vertices 0..n_vertices-1 (no loops, no multi-edges)."""

    n_vertices: int
    edges: tuple[tuple[int, int], ...]
    name: str = ""

    def __post_init__(self) -> None:
        if self.n_vertices < 0:
            raise ValueError("n_vertices must be >= 0")
        norm = []
        for i, j in self.edges:
            if i == j:
                raise ValueError(f"self-loop at vertex {i}")
            if not (0 <= i < self.n_vertices and 0 <= j < self.n_vertices):
                raise ValueError(f"edge ({i}, {j}) has a vertex outside 0..{self.n_vertices - 1}")
            norm.append((min(i, j), max(i, j)))
        norm = tuple(sorted(set(norm)))
        if len(norm) != len(self.edges):
            raise ValueError("duplicate edges")
        object.__setattr__(self, "edges", norm)

    @property
    def n_edges(self) -> int:
        return len(self.edges)

    def describe(self) -> str:
        """Compact text form, e.g. ``n=4 E=[(0,1),(1,2)]``."""
        es = ",".join(f"({i},{j})" for i, j in self.edges)
        return f"n={self.n_vertices} E=[{es}]"


def path(n: int) -> Graph:
    return Graph(n, tuple((i, i + 1) for i in range(n - 1)), f"path{n}")


def cycle(n: int) -> Graph:
    return Graph(n, tuple((i, (i + 1) % n) for i in range(n)), f"cycle{n}")


def complete(n: int) -> Graph:
    return Graph(n, tuple(itertools.combinations(range(n), 2)), f"K{n}")


def star(n_leaves: int) -> Graph:
    return Graph(n_leaves + 1, tuple((0, i) for i in range(1, n_leaves + 1)), f"star{n_leaves}")


def empty(n: int) -> Graph:
    return Graph(n, (), f"empty{n}")


def random_graph(n: int, p: float, rng: np.random.Generator) -> Graph:
    """Erdos-Renyi G(n, p): each of the n(n-1)/2 edges present independently with prob. p."""
    edges = tuple(e for e in itertools.combinations(range(n), 2) if rng.random() < p)
    return Graph(n, edges, f"G({n},{p:g})")
