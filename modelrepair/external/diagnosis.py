"""Repairability diagnosis of a trained two-layer network, before any sweep.

Exact repair needs each layer's change to lie in the column space of its repair design:

- layer "W": every hidden unit j needs ``W_j - W_j(0)`` in col(X^T) = rowspace(X);
- layer "beta": ``beta - beta(0)`` in col(Phi^T), ``Phi = s phi(X W)`` (n x p).

For each unit the *relative residual* is ``||D_j - P D_j||_2 / ||D_j||_2`` (0 when D_j = 0),
with P the orthogonal projector onto the design's column space (SVD, numerical rank
``s_i > max(rows, n) * machine eps * s_max``, as ``numpy.linalg.matrix_rank``); the
*absolute residual* is the largest entry of ``|D - P D|``.

Verdict per layer (thresholds are the keyword arguments of `diagnose`):

- "not repairable (under-parameterized)" when a unit has no more parameters than the
  design's rank (``rows <= rank``): col(A) is the whole space, so any corruption is
  "explained" and LAD cannot tell it apart;
- "exactly repairable in principle" when ``max relative residual <= rel_tol`` (1e-6) or
  ``max absolute residual <= abs_tol`` (1e-7, a tenth of the default repair tolerance; this
  admits float32-trained weights whose only residual is round-off);
- otherwise "approximately only (e.g. jointly trained, weight decay, biases not in the
  row space)": repair errors stay near the residual but exact repair will fail.

A jointly trained network typically gets "exact" for W and "approximate" for beta (Phi
moved during training); weight decay makes W approximate (it shrinks W(0), which is not
in the row space).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from modelrepair.training import Activation, hidden_features

EXACT = "exactly repairable in principle"
APPROXIMATE = "approximately only (e.g. jointly trained, weight decay, biases not in the row space)"
UNDER = "not repairable (under-parameterized)"
VERDICT_CODES = {EXACT: "exact", APPROXIMATE: "approximate", UNDER: "under_parameterized"}

REL_TOL = 1e-6
ABS_TOL = 1e-7


@dataclass(frozen=True)
class LayerDiagnosis:
    """Residuals and verdict of one layer; ``rows`` = parameters per unit (LAD rows)."""

    name: str
    units: int
    rows: int
    n_samples: int
    rank: int
    n_parameters: int
    params_to_samples: float  # rows per unit / n (the LAD's rows-to-unknowns ratio)
    max_relative_residual: float
    median_relative_residual: float
    max_abs_residual: float
    verdict: str
    relative_residuals: tuple[float, ...]

    @property
    def code(self) -> str:
        return VERDICT_CODES[self.verdict]


@dataclass(frozen=True)
class Diagnosis:
    """Diagnosis of both layers ("W", then "beta")."""

    layers: tuple[LayerDiagnosis, ...]
    rel_tol: float = REL_TOL
    abs_tol: float = ABS_TOL

    @property
    def exactly_repairable(self) -> bool:
        return all(layer.verdict == EXACT for layer in self.layers)

    def to_dict(self, per_unit: bool = False) -> dict:
        """JSON-ready summary; ``per_unit`` adds every unit's relative residual."""
        layers = []
        for layer in self.layers:
            d = asdict(layer)
            d["code"] = layer.code
            if not per_unit:
                d.pop("relative_residuals")
            layers.append(d)
        return {
            "exactly_repairable": self.exactly_repairable,
            "rel_tol": self.rel_tol,
            "abs_tol": self.abs_tol,
            "layers": layers,
        }

    def table(self) -> str:
        """Plain-text table, one row per layer, then the overall verdict."""
        head = ("layer", "units", "rows/unit", "n", "rank", "params", "params/n", "max rel res", "median rel res", "max abs res", "verdict")
        rows = [head]
        for x in self.layers:
            rows.append((
                x.name, str(x.units), str(x.rows), str(x.n_samples), str(x.rank), str(x.n_parameters),
                f"{x.params_to_samples:.3g}", f"{x.max_relative_residual:.2e}",
                f"{x.median_relative_residual:.2e}", f"{x.max_abs_residual:.2e}", x.verdict,
            ))  # fmt: skip
        widths = [max(len(r[i]) for r in rows) for i in range(len(head) - 1)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1] for r in rows]
        overall = "yes" if self.exactly_repairable else "no"
        lines.append(f"exactly repairable (all layers): {overall}")
        return "\n".join(lines)


def column_space_basis(A: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows x rank) of col(A) by SVD with numpy's matrix_rank tolerance."""
    U, s, _ = np.linalg.svd(np.asarray(A, float), full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    tol = s[0] * max(A.shape) * np.finfo(float).eps
    return U[:, s > tol]


def layer_diagnosis(
    name: str, A: np.ndarray, D: np.ndarray, n_samples: int, rel_tol: float = REL_TOL, abs_tol: float = ABS_TOL
) -> LayerDiagnosis:
    """Diagnose one layer: design ``A`` (rows x n), change ``D`` (rows x units or rows)."""
    D = np.asarray(D, float).reshape(A.shape[0], -1)
    Q = column_space_basis(A)
    R = D - Q @ (Q.T @ D)
    norms = np.linalg.norm(D, axis=0)
    rel = np.divide(np.linalg.norm(R, axis=0), norms, out=np.zeros(D.shape[1]), where=norms > 0)
    rows, rank = D.shape[0], Q.shape[1]
    max_rel = float(rel.max(initial=0.0))
    max_abs = float(np.abs(R).max(initial=0.0))
    if rows <= rank:
        verdict = UNDER
    elif max_rel <= rel_tol or max_abs <= abs_tol:
        verdict = EXACT
    else:
        verdict = APPROXIMATE
    return LayerDiagnosis(
        name, D.shape[1], rows, n_samples, rank, int(D.size), rows / max(1, n_samples),
        max_rel, float(np.median(rel)) if rel.size else 0.0, max_abs, verdict,
        tuple(float(r) for r in rel),
    )  # fmt: skip


def diagnose(
    X: np.ndarray,
    W0: np.ndarray,
    W: np.ndarray,
    beta0: np.ndarray,
    beta: np.ndarray,
    activation: Activation,
    scale: float = 1.0,
    *,
    rel_tol: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> Diagnosis:
    """Diagnose a network ``f(x) = scale * beta^T phi(W^T x)`` (X n x d, W d x p, beta p).

    ``beta0`` is the offset of layer 2 (where its last training phase started). With a
    first-layer bias, pass X with a constant column and W with the bias row appended.
    """
    X = np.asarray(X, float)
    n = X.shape[0]
    layer_w = layer_diagnosis("W", X.T, np.asarray(W) - np.asarray(W0), n, rel_tol, abs_tol)
    Phi = hidden_features(X, np.asarray(W, float), activation, scale)
    layer_b = layer_diagnosis("beta", Phi.T, np.asarray(beta) - np.asarray(beta0), n, rel_tol, abs_tol)
    return Diagnosis((layer_w, layer_b), rel_tol, abs_tol)
