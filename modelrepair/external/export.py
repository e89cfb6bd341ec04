"""Write a two-layer network in the formats `modelrepair.external.loaders` reads.

Arrays use the loaders' orientation: X (n x d), W0/W (d x p), beta0/beta (p), and with a
first-layer bias b0/b (p). CSVs are written with 17 significant digits, so float64 values
round-trip bit for bit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelrepair.external.loaders import CSV_LABELS


def _arrays(X, W0, W, beta0, beta, b0=None, b=None) -> dict[str, np.ndarray]:  # noqa: ANN001
    out = {"X": X, "W0": W0, "W": W, "beta0": beta0, "beta": beta}
    if b is not None:
        out["b0"] = np.zeros_like(b) if b0 is None else b0
        out["b"] = b
    return {k: np.asarray(v, dtype=float) for k, v in out.items()}


def write_npz(path: str | Path, X, W0, W, beta0, beta, b0=None, b=None) -> Path:  # noqa: ANN001
    """One ``.npz`` with arrays X, W0, W, beta0, beta (and b0, b)."""
    path = Path(path)
    np.savez(path, **_arrays(X, W0, W, beta0, beta, b0, b))
    return path


def write_csv_prefix(prefix: str | Path, X, W0, W, beta0, beta, b0=None, b=None, header: bool = False) -> str:  # noqa: ANN001
    """``<prefix>_X.csv, _W1_0.csv, _W1.csv, _W2_0.csv, _W2.csv`` (+ ``_b1_0, _b1``); beta as p x 1."""
    for key, a in _arrays(X, W0, W, beta0, beta, b0, b).items():
        M = a.reshape(a.shape[0], -1)
        head = ",".join(f"V{j + 1}" for j in range(M.shape[1])) if header else ""
        np.savetxt(f"{prefix}_{CSV_LABELS[key]}.csv", M, delimiter=",", fmt="%.17g", header=head, comments="")
    return str(prefix)


def torch_state(W: np.ndarray, beta: np.ndarray, b: np.ndarray | None = None, c: float | None = None) -> dict:
    """State dict of ``nn.Sequential(Linear(d, p), act, Linear(p, 1))`` (float64 tensors)."""
    import torch

    state = {"0.weight": torch.tensor(np.asarray(W, float).T.copy())}
    if b is not None:
        state["0.bias"] = torch.tensor(np.asarray(b, float))
    state["2.weight"] = torch.tensor(np.asarray(beta, float).reshape(1, -1))
    if c is not None:
        state["2.bias"] = torch.tensor([float(c)], dtype=torch.float64)
    return state


def write_torch(
    path: str | Path, X, W0, W, beta0, beta, b0=None, b=None, init_path: str | Path | None = None  # noqa: ANN001
) -> Path:
    """``{"initial", "trained", "X"}`` in one file, or trained (+X) in ``path`` and initial in ``init_path``."""
    import torch

    a = _arrays(X, W0, W, beta0, beta, b0, b)
    trained = torch_state(a["W"], a["beta"], a.get("b"))
    initial = torch_state(a["W0"], a["beta0"], a.get("b0"))
    X_t = torch.tensor(a["X"])
    if init_path is None:
        torch.save({"initial": initial, "trained": trained, "X": X_t}, path)
    else:
        torch.save({**trained, "X": X_t}, path)
        torch.save(initial, init_path)
    return Path(path)
