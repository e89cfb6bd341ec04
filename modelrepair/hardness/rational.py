"""Exact rational linear algebra (fractions.Fraction) for hyperplane certificates.

`RowBasis` grows an echelon basis of rows [a | b] one row at a time and tells whether a new
equation a.w = b is independent, implied, or contradicts the ones already held; `solution()`
returns the particular solution with every free (non-pivot) unknown set to 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Literal

AddResult = Literal["independent", "implied", "inconsistent"]


def to_fraction(value: object) -> Fraction:
    """Exact rational from int, Fraction, decimal string, or float (via its shortest repr)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("booleans are not numbers here")
    if isinstance(value, int | str):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))
    return Fraction(str(value))


class RowBasis:
    """Echelon basis of linear equations a.w = b over the rationals, in ``n_cols`` unknowns."""

    def __init__(self, n_cols: int) -> None:
        self.n_cols = n_cols
        self._rows: list[tuple[int, list[Fraction], Fraction]] = []  # (pivot, row, rhs)

    @property
    def rank(self) -> int:
        return len(self._rows)

    def _reduce(self, row: Sequence[Fraction], rhs: Fraction) -> tuple[list[Fraction], Fraction]:
        r = [Fraction(v) for v in row]
        b = Fraction(rhs)
        for piv, brow, brhs in self._rows:
            f = r[piv]
            if f:
                f = f / brow[piv]
                r = [ri - f * bi for ri, bi in zip(r, brow, strict=True)]
                b -= f * brhs
        return r, b

    def add(self, row: Sequence[Fraction], rhs: Fraction, *, commit: bool = True) -> AddResult:
        """Classify the equation row.w = rhs against the basis; store it if independent."""
        if len(row) != self.n_cols:
            raise ValueError(f"row has {len(row)} entries, expected {self.n_cols}")
        r, b = self._reduce(row, rhs)
        piv = next((j for j, v in enumerate(r) if v), None)
        if piv is None:
            return "implied" if b == 0 else "inconsistent"
        if commit:
            self._rows.append((piv, r, b))
        return "independent"

    def solution(self) -> list[Fraction]:
        """Particular solution of the held equations, free unknowns set to 0 (back-substitution)."""
        w = [Fraction(0)] * self.n_cols
        for piv, row, rhs in reversed(self._rows):
            s = rhs - sum((row[j] * w[j] for j in range(self.n_cols) if j != piv and row[j]),
                          Fraction(0))
            w[piv] = s / row[piv]
        return w


def rank(rows: Sequence[Sequence[Fraction]]) -> int:
    """Exact rank of a rational matrix given as rows."""
    if not rows:
        return 0
    basis = RowBasis(len(rows[0]))
    for r in rows:
        basis.add(r, Fraction(0))
    return basis.rank
