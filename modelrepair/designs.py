"""Design matrices: synthetic Gaussian and the Alon (1999) colon gene-expression data."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelrepair.errors import DataFileError


def gaussian_design(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n x d matrix with i.i.d. N(0, 1) entries."""
    return rng.standard_normal((n, d))


def _read_csv_matrix(path: Path, what: str) -> np.ndarray:
    if not path.is_file():
        raise DataFileError(path, f"{what} file not found; fix the path in the config or pass --data-dir DIR")
    try:
        with path.open() as fh:
            header = fh.readline()
        skip = 0 if _is_numeric_row(header) else 1
        M = np.loadtxt(path, delimiter=",", skiprows=skip, ndmin=2, dtype=float)
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"malformed {what} CSV ({err}); expected comma-separated numbers with an optional header row") from None
    if M.size == 0:
        raise DataFileError(path, f"{what} file holds no data")
    if not np.all(np.isfinite(M)):
        raise DataFileError(path, f"{what} contains NaN or inf")
    return M


def _is_numeric_row(line: str) -> bool:
    try:
        [float(tok) for tok in line.strip().split(",") if tok != ""]
        return bool(line.strip())
    except ValueError:
        return False


def load_colon(
    x_path: str | Path,
    y_path: str | Path | None = None,
    *,
    log_transform: bool = False,
    standardize: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Load the Alon colon matrix (62 samples x 2000 genes) and optional 0/1 tumor labels.

    ``log_transform`` applies log10 to the (positive) intensities; ``standardize`` centres
    each gene to mean 0 and scales to sd 1.
    """
    X = _read_csv_matrix(Path(x_path), "design (X)")
    if log_transform:
        if np.any(X <= 0):
            raise DataFileError(x_path, "log_transform needs positive intensities")
        X = np.log10(X)
    if standardize:
        sd = X.std(axis=0)
        sd[sd == 0] = 1.0
        X = (X - X.mean(axis=0)) / sd
    y = None
    if y_path is not None:
        y = _read_csv_matrix(Path(y_path), "labels (y)")
        if y.shape[1] != 1:
            raise DataFileError(y_path, f"labels must be one column, got {y.shape[1]}")
        y = y[:, 0]
        if y.shape[0] != X.shape[0]:
            raise DataFileError(y_path, f"has {y.shape[0]} labels but {x_path} has {X.shape[0]} rows")
    return X, y


def select_columns(X: np.ndarray, d: int, rng: np.random.Generator) -> np.ndarray:
    """A random subset of d columns of X (sorted order), e.g. d random genes."""
    if d > X.shape[1]:
        raise ValueError(f"cannot select {d} columns from a design with {X.shape[1]}")
    idx = np.sort(rng.choice(X.shape[1], size=d, replace=False))
    return X[:, idx]
