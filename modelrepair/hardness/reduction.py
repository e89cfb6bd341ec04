"""The thesis' reduction (section 5) from vertex cover (G, k) to a c-DPS instance.

Coordinates x in Q^{d-1}: x_1..x_|V| one per vertex, x_{|V|+1}..x_{d-1} one per padding point
p_l.  With m = |V| + |E| + 2 the thesis sets

    zeta = 2 * ceil((1 - 2c) / (2c) * m)  if c < 1/2, else 0
    eta  = ceil((2c - 1) / (1 - c) * m)   if c > 1/2, else 0
    d = 1 + |V| + zeta,  n = 2m + zeta + eta,  h = m + zeta

and the points (y last), 1_i the i-th unit vector, 1_V the all-ones vertex block:

    v_i  = (1_i, 0) y=1      v_i* = (1_i, 0) y=2
    e_ij = (1_i + 1_j, 0) y=3    e_ij* = (1_i + 1_j, 0) y=4
    K = (1_V, 0) y=|V|+k     K* = (1_V, 0) y=|V|+k-1     K_m = (1_V, 0) y=-m, m=1..eta
    p = (0, 0) y=0           p* = (0, 0) y=1             p_l = (0, 1_l) y=1, l=1..zeta

(The table's y values are followed; the prose calls the point on the hyperplane for a cover
vertex, beta_i = 2, "v_i", which in the table is v_i*.)  The reduction asks "is there a
non-vertical hyperplane y = beta^T x + beta_d through h points"; Definition 5.1 at the
requested c asks for ceil((1 - c) n) points.  For c < 1/2 these coincide (h - (1 - c) n =
c zeta - (1 - 2c) m lies in [0, 2c)); for c > 1/2, (1 - c) n - h = (1 - c) eta - (2c - 1) m
lies in [0, 1 - c), so ceil((1 - c) n) = h + 1 unless (2c - 1) m / (1 - c) is an integer.

Variants (NOT the thesis; the default ``"thesis"`` is the construction above):
``"pstar_minus_one"`` moves p* to y = -1, closing the beta_d = 1 loophole (with beta_d = 1,
beta_i = 1 for all i, padding betas 0, the points v_i*, e_ij, p*, p_l and K (k = 1) or K*
(k = 2) are all on one hyperplane, h points for ANY graph); ``"repaired"`` additionally takes
eta = floor(...) instead of ceil(...), so that ceil((1 - c) n) = h also for c > 1/2 (with ceil
it is h + 1 whenever (2c - 1) m / (1 - c) is not an integer, and no hyperplane reaches it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from modelrepair.errors import SpecError
from modelrepair.hardness.graphs import Graph
from modelrepair.hardness.rational import to_fraction

Variant = Literal["thesis", "pstar_minus_one", "repaired"]
VARIANTS = ("thesis", "pstar_minus_one", "repaired")


def _ceil(q: Fraction) -> int:
    return math.ceil(q)  # exact for Fraction


def padding_counts(n_vertices: int, n_edges: int, c: Fraction,
                   eta_floor: bool = False) -> tuple[int, int]:
    """(zeta, eta) of the thesis for a graph with these counts and fraction c
    (``eta_floor``: floor instead of the thesis' ceil in eta, variant "repaired")."""
    m = n_vertices + n_edges + 2
    half = Fraction(1, 2)
    zeta = 2 * _ceil((1 - 2 * c) / (2 * c) * m) if c < half else 0
    eta_q = (2 * c - 1) / (1 - c) * m
    eta = (math.floor(eta_q) if eta_floor else _ceil(eta_q)) if c > half else 0
    return zeta, eta


@dataclass(frozen=True)
class Hyperplane:
    """y = beta . x + beta_d, exact rationals."""

    beta: tuple[Fraction, ...]
    beta_d: Fraction

    def value(self, x: tuple[Fraction, ...]) -> Fraction:
        return sum((b * xi for b, xi in zip(self.beta, x, strict=True) if xi), Fraction(0)) + self.beta_d

    def on(self, points: tuple[tuple[Fraction, ...], ...], y: tuple[Fraction, ...]) -> tuple[int, ...]:
        """Indices of the points lying exactly on the hyperplane."""
        return tuple(i for i, (x, yi) in enumerate(zip(points, y, strict=True)) if self.value(x) == yi)

    def describe(self, n_vertex_coords: int | None = None) -> str:
        """Text form; with ``n_vertex_coords`` the padding coordinates are summarised."""
        def fmt(q: Fraction) -> str:
            return str(q.numerator) if q.denominator == 1 else f"{q.numerator}/{q.denominator}"

        b = self.beta
        if n_vertex_coords is not None and len(b) > n_vertex_coords:
            head = ",".join(fmt(q) for q in b[:n_vertex_coords])
            tail = sorted({fmt(q) for q in b[n_vertex_coords:]})
            return f"beta=[{head}|pad:{'/'.join(tail)}] beta_d={fmt(self.beta_d)}"
        return f"beta=[{','.join(fmt(q) for q in b)}] beta_d={fmt(self.beta_d)}"


@dataclass(frozen=True)
class CdpsReduction:
    """The c-DPS instance built from (graph, k, c); points exact, ``x_float``/``y_float`` views."""

    graph: Graph
    k: int
    c: Fraction
    variant: str
    points: tuple[tuple[Fraction, ...], ...]  # n points in Q^{d-1}
    y: tuple[Fraction, ...]
    labels: tuple[str, ...]
    zeta: int
    eta: int
    d: int  # number of hyperplane parameters beta_1..beta_d (x has d-1 coordinates)
    n: int
    h: int

    @property
    def realised_c(self) -> Fraction:
        """Fraction of points off an h-point hyperplane: 1 - h/n."""
        return 1 - Fraction(self.h, self.n)

    @property
    def cdps_threshold(self) -> int:
        """ceil((1 - c) n): the number of points Definition 5.1 asks for at the requested c."""
        return _ceil((1 - self.c) * self.n)

    @property
    def x_float(self) -> np.ndarray:
        return np.array([[float(v) for v in p] for p in self.points], dtype=float).reshape(
            self.n, self.d - 1)

    @property
    def y_float(self) -> np.ndarray:
        return np.array([float(v) for v in self.y], dtype=float)


def reduce_vertex_cover(graph: Graph, k: int, c: object, variant: Variant = "thesis") -> CdpsReduction:
    """Build the thesis' c-DPS instance for vertex cover (graph, k) at fraction 0 < c < 1."""
    cq = to_fraction(c)
    if not 0 < cq < 1:
        raise SpecError("c", f"must satisfy 0 < c < 1, got {c}")
    if k < 0:
        raise SpecError("k", f"must be >= 0, got {k}")
    if variant not in VARIANTS:
        raise SpecError("variant", f"must be one of {', '.join(VARIANTS)}, got {variant!r}")
    nv, ne = graph.n_vertices, graph.n_edges
    zeta, eta = padding_counts(nv, ne, cq, eta_floor=variant == "repaired")
    dim = nv + zeta  # = d - 1
    zero = (Fraction(0),) * dim
    one, two = Fraction(1), Fraction(2)

    def unit(*idx: int) -> tuple[Fraction, ...]:
        x = list(zero)
        for i in idx:
            x[i] = one
        return tuple(x)

    pts: list[tuple[Fraction, ...]] = []
    ys: list[Fraction] = []
    labels: list[str] = []

    def add(x: tuple[Fraction, ...], y: object, label: str) -> None:
        pts.append(x)
        ys.append(Fraction(y))
        labels.append(label)

    for i in range(nv):
        add(unit(i), one, f"v{i}")
        add(unit(i), two, f"v{i}*")
    for i, j in graph.edges:
        add(unit(i, j), 3, f"e{i}-{j}")
        add(unit(i, j), 4, f"e{i}-{j}*")
    ones_v = unit(*range(nv))
    add(ones_v, nv + k, "K")
    add(ones_v, nv + k - 1, "K*")
    for mm in range(1, eta + 1):
        add(ones_v, -mm, f"K_{mm}")
    add(zero, 0, "p")
    add(zero, 1 if variant == "thesis" else -1, "p*")
    for ll in range(zeta):
        add(unit(nv + ll), one, f"p_{ll + 1}")

    m = nv + ne + 2
    red = CdpsReduction(graph=graph, k=k, c=cq, variant=variant, points=tuple(pts), y=tuple(ys),
                        labels=tuple(labels), zeta=zeta, eta=eta, d=1 + nv + zeta,
                        n=2 * m + zeta + eta, h=m + zeta)
    assert len(pts) == red.n, (len(pts), red.n)
    return red


def cover_hyperplane(red: CdpsReduction, cover: frozenset[int] | set[int]) -> Hyperplane:
    """Lemma 5.2's hyperplane: beta_i = 2 on the cover, 1 off it, padding betas 1, beta_d = 0."""
    nv = red.graph.n_vertices
    beta = tuple(Fraction(2) if i in cover else Fraction(1) for i in range(nv))
    return Hyperplane(beta + (Fraction(1),) * red.zeta, Fraction(0))
