"""Read a two-layer network trained elsewhere: X, W(0), W, beta(0), beta (+ optional biases).

Orientation (the thesis' Keras layout): ``X`` is n x d (samples in rows), ``W`` is d x p
(one column per hidden unit), ``beta`` has p entries (p, (p, 1) or (1, p) are accepted).
The model is ``f(x) = s * beta^T phi(W^T x + b)`` with ``s = 1`` or ``1/sqrt(p)``.

Formats:
- ``npz``: one ``.npz`` with arrays ``X, W0, W, beta0, beta`` and, with a first-layer bias,
  ``b0, b`` (p entries each).
- ``csv``: a prefix; files ``<prefix>_X.csv, <prefix>_W1_0.csv, <prefix>_W1.csv,
  <prefix>_W2_0.csv, <prefix>_W2.csv`` (+ ``<prefix>_b1_0.csv, <prefix>_b1.csv``), each with
  or without a header row; an R-style row-name column (header starting with an empty
  cell) is dropped.
- ``torch``: state dicts of ``nn.Sequential(Linear(d, p), activation, Linear(p, 1))``:
  one file holding ``{"initial": state_dict, "trained": state_dict, "X": tensor}``, or the
  trained state dict in ``path`` and the initial one in ``init_path``; X comes from the
  checkpoint's ``"X"`` or from ``x_path`` (``.npy``/``.csv``). ``Linear.weight`` (p x d) is
  transposed to W; the first ``Linear.bias`` is b. The output bias does not enter either
  repair design and is neither corrupted nor repaired (kept as ``c0, c`` for reference).

`load_arrays` returns validated float64 arrays; every problem (missing file, wrong shape,
transposed matrix, NaN) is a `DataFileError` naming the file, the array and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modelrepair.errors import DataFileError, SpecError

#: canonical name -> label used in each format's files and messages.
CSV_LABELS = {"X": "X", "W0": "W1_0", "W": "W1", "beta0": "W2_0", "beta": "W2", "b0": "b1_0", "b": "b1"}
NPZ_LABELS = {k: k for k in CSV_LABELS}
TORCH_LABELS = {
    "X": "X",
    "W0": "initial first Linear.weight^T",
    "W": "trained first Linear.weight^T",
    "beta0": "initial second Linear.weight",
    "beta": "trained second Linear.weight",
    "b0": "initial first Linear.bias",
    "b": "trained first Linear.bias",
}


@dataclass(frozen=True)
class ExternalArrays:
    """A validated imported network. ``X``, ``W0``, ``W`` include the bias row/column if any."""

    X: np.ndarray  # n x d (d counts the constant column when first_layer_bias)
    W0: np.ndarray  # d x p
    W: np.ndarray  # d x p
    beta0: np.ndarray  # p
    beta: np.ndarray  # p
    first_layer_bias: bool = False

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"X": self.X, "W0": self.W0, "W": self.W, "beta0": self.beta0, "beta": self.beta}


@dataclass
class _Raw:
    arrays: dict[str, np.ndarray]
    sources: dict[str, str]  # canonical name -> file path (for messages)
    labels: dict[str, str]  # canonical name -> user-facing name


def detect_format(path: str) -> str:
    """``npz`` / ``torch`` by suffix (.npz; .pt/.pth/.ckpt), else ``csv`` (a prefix)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".npz":
        return "npz"
    if suffix in (".pt", ".pth", ".ckpt"):
        return "torch"
    return "csv"


def load_arrays(
    fmt: str,
    path: str,
    *,
    init_path: str | None = None,
    x_path: str | None = None,
    first_layer_bias: bool = False,
) -> ExternalArrays:
    """Load and validate a network; the bias (if any) is folded in as X' = [X, 1], W' = [W; b^T]."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "npz":
        raw = _load_npz(Path(path), first_layer_bias)
    elif fmt == "csv":
        raw = _load_csv_prefix(path, first_layer_bias)
    elif fmt == "torch":
        raw = _load_torch(Path(path), init_path, x_path, first_layer_bias)
    else:  # pragma: no cover - the spec's Literal prevents this
        raise SpecError("format", f"unknown format {fmt!r}")
    return validate(raw, first_layer_bias)


# ---------------------------------------------------------------------------- readers


def _need_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise DataFileError(path, f"{what} file not found; check the model's `path` (config) or the file argument (mrsweep diagnose)")


def _load_npz(path: Path, bias: bool) -> _Raw:
    _need_file(path, "network (.npz)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: np.asarray(z[k]) for k in z.files}
    except (ValueError, OSError) as err:
        raise DataFileError(path, f"cannot read as .npz ({err})") from None
    names = ["X", "W0", "W", "beta0", "beta"] + (["b0", "b"] if bias else [])
    if not bias and "b" in arrays:
        raise SpecError("first_layer_bias", f"is false but {path} holds a first-layer bias 'b'; set "
                        "first_layer_bias = true (diagnose: --first-layer-bias), or the repair ignores it")
    missing = [k for k in names if k not in arrays]
    if missing:
        raise DataFileError(
            path, f"missing array(s) {', '.join(missing)}; expected {', '.join(names)} (has {', '.join(sorted(arrays)) or 'none'})"
        )
    return _Raw({k: arrays[k] for k in names}, {k: str(path) for k in names}, NPZ_LABELS)


def read_csv_matrix(path: Path, label: str) -> np.ndarray:
    """A numeric CSV as a 2-D float array; an optional header row (and R row names) is skipped."""
    _need_file(path, f"{label} (CSV)")
    with path.open() as fh:
        first = fh.readline()
    tokens = [t.strip().strip('"').strip("'") for t in first.strip().split(",")]
    header = not _all_numeric(tokens)
    usecols = None
    if header and tokens and tokens[0] == "":
        usecols = range(1, len(tokens))  # R write.csv: row-name column under an empty header cell
    try:
        M = np.loadtxt(path, delimiter=",", skiprows=int(header), usecols=usecols, ndmin=2, quotechar='"')
    except (ValueError, UnicodeDecodeError) as err:
        raise DataFileError(path, f"malformed {label} CSV ({err}); expected comma-separated numbers with an optional header row") from None
    if M.size == 0:
        raise DataFileError(path, f"{label} holds no numbers")
    return M


def _all_numeric(tokens: list[str]) -> bool:
    if not tokens or tokens == [""]:
        return False
    try:
        for t in tokens:
            float(t)
    except ValueError:
        return False
    return True


def csv_prefix(path: str) -> str:
    """The prefix of a CSV set; a path to one of its files (e.g. ``net_X.csv``) is accepted."""
    for label in sorted(CSV_LABELS.values(), key=len, reverse=True):
        if path.endswith(f"_{label}.csv"):
            return path[: -len(f"_{label}.csv")]
    return path


def _load_csv_prefix(prefix: str, bias: bool) -> _Raw:
    prefix = csv_prefix(prefix)
    names = ["X", "W0", "W", "beta0", "beta"] + (["b0", "b"] if bias else [])
    paths = {k: Path(f"{prefix}_{CSV_LABELS[k]}.csv") for k in names}
    bias_file = Path(f"{prefix}_{CSV_LABELS['b']}.csv")
    if not bias and bias_file.is_file():
        raise SpecError("first_layer_bias", f"is false but {bias_file} (a first-layer bias) exists; set "
                        "first_layer_bias = true (diagnose: --first-layer-bias), or the repair ignores it")
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise DataFileError(
            missing[0],
            f"file not found ({len(missing)} of {len(names)} missing); the CSV layout is "
            f"{prefix}_{{{','.join(CSV_LABELS[k] for k in names)}}}.csv",
        )
    arrays = {k: read_csv_matrix(p, CSV_LABELS[k]) for k, p in paths.items()}
    return _Raw(arrays, {k: str(p) for k, p in paths.items()}, CSV_LABELS)


def _torch_load(path: Path) -> Any:
    import torch

    _need_file(path, "torch checkpoint")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for unreadable files
        raise DataFileError(path, f"cannot read as a torch checkpoint of state dicts ({type(err).__name__}: {err}); save model.state_dict(), not the module") from None


def _to_numpy(value: Any) -> np.ndarray:
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64).cpu().numpy()
    return np.asarray(value, dtype=float)


def _linear_layers(state: Any, path: Path, which: str) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """[(weight, bias or None)] of the 2-D ``*.weight`` entries, in state-dict order."""
    if not isinstance(state, dict):
        raise DataFileError(path, f"{which} state is a {type(state).__name__}; expected a state dict (model.state_dict())")
    layers = []
    for key, value in state.items():
        if key.endswith("weight") and getattr(value, "ndim", 0) == 2:
            stem = key[: -len("weight")]
            bias = state.get(stem + "bias")
            layers.append((_to_numpy(value), None if bias is None else _to_numpy(bias)))
    if len(layers) != 2:
        raise DataFileError(
            path, f"{which} state dict has {len(layers)} Linear weight(s) ({', '.join(map(str, state))}); expected nn.Sequential(Linear, activation, Linear)"
        )
    return layers


def _load_torch(path: Path, init_path: str | None, x_path: str | None, bias: bool) -> _Raw:
    ckpt = _torch_load(path)
    if init_path is not None:
        trained, initial = ckpt, _torch_load(Path(init_path))
        X = ckpt.pop("X", None) if isinstance(ckpt, dict) else None
    else:
        if not (isinstance(ckpt, dict) and "initial" in ckpt and "trained" in ckpt):
            keys = ", ".join(map(str, ckpt)) if isinstance(ckpt, dict) else type(ckpt).__name__
            raise DataFileError(
                path, f"expected a dict with 'initial' and 'trained' state dicts (got {keys}); or give the initial state in `init_path` (mrsweep diagnose: --init-path)"
            )
        trained, initial, X = ckpt["trained"], ckpt["initial"], ckpt.get("X")
    sources = {k: str(path) for k in TORCH_LABELS}
    if init_path is not None:
        sources.update({k: str(init_path) for k in ("W0", "beta0", "b0")})
    if x_path is not None:
        X = _load_x(Path(x_path))
        sources["X"] = str(x_path)
    elif X is None:
        raise DataFileError(path, "holds no 'X' (design, n x d); add it to the checkpoint or give X separately (`x_path` in the config, --x-path for diagnose)")
    (W, b), (beta, c) = _linear_layers(trained, path, "trained")
    (W0, b0), (beta0, c0) = _linear_layers(initial, Path(init_path or path), "initial")
    has_bias = b is not None
    if bias != has_bias:
        raise SpecError(
            "first_layer_bias",
            f"is {str(bias).lower()} but the first Linear layer in {path} has {'a' if has_bias else 'no'} bias; "
            f"set first_layer_bias = {str(has_bias).lower()}" + (" (diagnose: --first-layer-bias)" if has_bias else ""),
        )
    arrays = {"X": _to_numpy(X), "W0": W0.T, "W": W.T, "beta0": beta0, "beta": beta}
    if bias:
        arrays["b0"], arrays["b"] = b0 if b0 is not None else np.zeros_like(b), b
    return _Raw(arrays, sources, TORCH_LABELS)


def _load_x(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        _need_file(path, "design X (.npy)")
        return np.load(path, allow_pickle=False)
    return read_csv_matrix(path, "X")


# ------------------------------------------------------------------------- validation


def _vector(raw: _Raw, key: str, p: int | None) -> np.ndarray:
    a = np.asarray(raw.arrays[key], dtype=float)
    label, src = raw.labels[key], raw.sources[key]
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1:
        raise DataFileError(src, f"{label} has shape {a.shape}; expected a vector of p entries (one output unit)")
    if p is not None and a.shape[0] != p:
        raise DataFileError(src, f"{label} has {a.shape[0]} entries; expected p = {p} (columns of {raw.labels['W']})")
    return a


def _matrix(raw: _Raw, key: str) -> np.ndarray:
    a = np.asarray(raw.arrays[key], dtype=float)
    if a.ndim != 2:
        raise DataFileError(raw.sources[key], f"{raw.labels[key]} has shape {a.shape}; expected a 2-D matrix")
    return a


def _finite(raw: _Raw, key: str, a: np.ndarray) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataFileError(
            raw.sources[key], f"{raw.labels[key]} has {int(bad.sum())} NaN/inf entries (first at index {first}); weights must be finite to be repaired"
        )


def validate(raw: _Raw, bias: bool) -> ExternalArrays:
    """Check shapes/orientation and finiteness; return float64 arrays with the bias folded in."""
    lab, src = raw.labels, raw.sources
    X, W, W0 = _matrix(raw, "X"), _matrix(raw, "W"), _matrix(raw, "W0")
    beta = _vector(raw, "beta", None)
    p, d = beta.shape[0], X.shape[1]
    if W.shape != (d, p):
        hint = ": is it transposed?" if W.shape == (p, d) else ""
        if not hint and W.shape[0] == X.shape[0] and W.shape[1] == p:
            raise DataFileError(
                src["X"], f"{lab['X']} has shape {X.shape}; expected (n, d) with d = {W.shape[0]} (rows of {lab['W']}): is it transposed?"
            )
        w0_agrees = W0.shape == W.shape  # then W is right, and X or beta is the odd one out
        if not hint and w0_agrees and W.shape[0] == d:  # W, W0 agree with X: beta is wrong
            raise DataFileError(src["beta"], f"{lab['beta']} has {p} entries but {lab['W']} {W.shape} has "
                                f"{W.shape[1]} hidden units (columns); expected {W.shape[1]} entries")
        if not hint and w0_agrees and W.shape[1] == p:  # W, W0 agree with beta: X is wrong
            raise DataFileError(src["X"], f"{lab['X']} has {d} columns (inputs) but {lab['W']} {W.shape} has "
                                f"{W.shape[0]} rows; expected X of shape (n, {W.shape[0]})")
        raise DataFileError(src["W"], f"{lab['W']} has shape {W.shape}; expected (d, p) = ({d}, {p}){hint}")
    if W0.shape != W.shape:
        hint = ": is it transposed?" if W0.shape == W.shape[::-1] else ""
        raise DataFileError(src["W0"], f"{lab['W0']} has shape {W0.shape}; expected (d, p) = ({d}, {p}) like {lab['W']}{hint}")
    beta0 = _vector(raw, "beta0", p)
    arrays = {"X": X, "W": W, "W0": W0, "beta": beta, "beta0": beta0}
    if bias:
        arrays["b"], arrays["b0"] = _vector(raw, "b", p), _vector(raw, "b0", p)
    for key, a in arrays.items():
        _finite(raw, key, a)
    if bias:
        ones = np.ones((X.shape[0], 1))
        X = np.hstack([X, ones])
        W = np.vstack([W, arrays["b"][None, :]])
        W0 = np.vstack([W0, arrays["b0"][None, :]])
    return ExternalArrays(X, W0, W, beta0, beta, bias)
