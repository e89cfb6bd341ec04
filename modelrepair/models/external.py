"""``kind = "external"``: repair a two-layer network trained outside this package.

The spec points to files holding X, W(0), W, beta(0), beta (see `modelrepair.external.loaders`
for the ``npz`` / ``csv`` prefix / ``torch`` layouts and the orientation checks). The model
is ``f(x) = s beta^T phi(W^T x + b)``, ``s = 1`` or ``1/sqrt(p)`` (``output_scaling``).

Repair is *the same code* as the native ``twolayer`` kind: the imported arrays become a
`FittedTwoLayer`, so a network exported from ``twolayer`` and imported here gives
bit-identical cell outcomes. Layer-2's offset is beta(0) (``beta_offset = "initial"``) or 0
(``"zero"``: layerwise training that restarted beta at 0 while the file holds phase 1's
beta(0)).

First-layer bias (``first_layer_bias = true``): the bias b is one more row of W acting on
a constant input, ``X' = [X, 1]`` (n x (d+1)), ``W' = [W; b^T]`` ((d+1) x p). GD keeps
``W' - W'(0)`` in rowspace(X') exactly as without a bias, so W' is repaired with design X'^T
and ``phi(X' W~')`` is the design of layer 2. The output bias (one scalar) enters neither
design and is neither corrupted nor repaired.

Nothing is cached on disk (``cacheable = False``): the files are the model, and loading
them is cheap; a small in-process cache keyed by the files' mtimes avoids re-reading them
between ``check_data``, ``diagnose`` and ``fit``.

The files' content is part of the model's identity: ``to_dict()`` fills ``data_sha256``
(sha256 over the files, in a fixed order) when it is empty, so the manifest hash changes
when a file is rewritten; a spec carrying ``data_sha256`` (e.g. rebuilt from a manifest on
a compute node) refuses files whose content differs.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from modelrepair.errors import DataFileError
from modelrepair.external.diagnosis import Diagnosis, diagnose
from modelrepair.external.loaders import ExternalArrays, csv_prefix, detect_format, load_arrays
from modelrepair.models.base import ModelSpec, register_model_kind
from modelrepair.models.twolayer import (
    FittedTwoLayer,
    OutputScaling,
    TwoLayerSpec,
    fit_info_from_arrays,
)
from modelrepair.training import Activation
from modelrepair.validation import require

Format = Literal["auto", "npz", "csv", "torch"]
_CACHE: dict[tuple, ExternalArrays] = {}
_SHA: dict[tuple, str] = {}


def _mtime(path: str | None) -> float | None:
    try:
        return os.stat(path).st_mtime_ns if path else None
    except OSError:
        return None


@register_model_kind
@dataclass(frozen=True)
class ExternalSpec(ModelSpec):
    """An imported network. ``path``: the .npz, the CSV prefix, or the torch checkpoint.

    ``init_path`` (torch only): a separate file with the initial state dict; ``x_path``
    (torch only): X as .npy or .csv when the checkpoint holds no ``"X"``.
    """

    kind = "external"
    cacheable = False
    #: fields holding data paths (resolved against the config's folder by jobs.config)
    path_fields: ClassVar[frozenset[str]] = frozenset({"path", "init_path", "x_path"})
    format: Format = "auto"
    path: str = ""
    init_path: str | None = None
    x_path: str | None = None
    activation: Activation = "tanh"
    output_scaling: OutputScaling = "none"
    first_layer_bias: bool = False
    beta_offset: Literal["initial", "zero"] = "initial"
    #: sha256 of the files, filled in by ``to_dict()`` at plan time; leave empty in configs
    data_sha256: str = ""

    def __post_init__(self) -> None:
        require(self.path != "", "path", "required: the .npz file, the CSV prefix or the torch checkpoint")
        fmt = self.resolved_format
        for name in ("init_path", "x_path"):
            require(getattr(self, name) is None or fmt == "torch", name, f"only used with format = 'torch' (this model's format is {fmt!r})")

    @property
    def resolved_format(self) -> str:
        return detect_format(self.path) if self.format == "auto" else self.format

    def files(self) -> list[str]:
        """The files this model reads (those that exist, for a CSV prefix)."""
        if self.resolved_format == "csv":
            names = ("X", "W1_0", "W1", "W2_0", "W2") + (("b1_0", "b1") if self.first_layer_bias else ())
            return [f"{csv_prefix(self.path)}_{s}.csv" for s in names]
        return [p for p in (self.path, self.init_path, self.x_path) if p]

    def files_sha256(self) -> str:
        """sha256 over the files' bytes in `files` order ("" for a missing file's part)."""
        key = ("sha", tuple(self.files()), tuple(_mtime(p) for p in self.files()))
        if key not in _SHA:
            h = hashlib.sha256()
            for path in self.files():
                h.update(b"\0file\0")
                try:
                    with open(path, "rb") as fh:
                        for block in iter(lambda: fh.read(1 << 20), b""):
                            h.update(block)
                except OSError:
                    h.update(b"missing")
            _SHA.clear()
            _SHA[key] = h.hexdigest()
        return _SHA[key]

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if not d["data_sha256"]:
            d["data_sha256"] = self.files_sha256()
        return d

    def load(self) -> ExternalArrays:
        """Validated arrays (bias folded into X and W); raises DataFileError/SpecError."""
        key = (self.resolved_format, self.path, self.init_path, self.x_path, self.first_layer_bias,
               tuple(_mtime(p) for p in self.files()))  # fmt: skip
        if key not in _CACHE:
            arrays = load_arrays(
                self.format, self.path, init_path=self.init_path, x_path=self.x_path,
                first_layer_bias=self.first_layer_bias,
            )  # fmt: skip
            _CACHE.clear()  # keep at most one network in memory
            _CACHE[key] = arrays
        if self.data_sha256 and self.data_sha256 != self.files_sha256():
            raise DataFileError(
                self.path, "content changed since the sweep was planned (data_sha256 differs); "
                "re-plan with `mrsweep run CONFIG --new` or restore the files",
            )  # fmt: skip
        return _CACHE[key]

    def repair_view(self, hidden: int) -> TwoLayerSpec:
        """The native spec whose repair code runs on the imported arrays."""
        return TwoLayerSpec(name=self.name, hidden=hidden, activation=self.activation, output_scaling=self.output_scaling)

    def _offset(self, a: ExternalArrays) -> np.ndarray:
        return np.zeros_like(a.beta0) if self.beta_offset == "zero" else a.beta0

    def run_diagnosis(self) -> Diagnosis:
        a = self.load()
        scale = self.repair_view(a.beta.shape[0]).scale
        return diagnose(a.X, a.W0, a.W, self._offset(a), a.beta, self.activation, scale)

    def diagnose(self) -> dict[str, Any]:
        """JSON-ready repairability diagnosis (see `modelrepair.external.diagnosis`)."""
        out = self.run_diagnosis().to_dict()
        return {"model": self.name, "kind": self.kind, "path": self.path, **out}

    def fit(self, seed: np.random.SeedSequence | None = None) -> FittedTwoLayer:
        """No training: wrap the imported arrays (``seed`` is unused)."""
        a = self.load()
        diag = self.run_diagnosis()
        info = {
            "W_max_relative_residual": diag.layers[0].max_relative_residual,
            "beta_max_relative_residual": diag.layers[1].max_relative_residual,
            "exactly_repairable": float(diag.exactly_repairable),
        }
        arrays = {**a.as_dict(), "beta_start": self._offset(a), "y": np.zeros(0)}
        fitted = self.from_arrays(arrays)
        fitted.fit_info.update(info)
        return fitted

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedTwoLayer:
        a = {k: np.asarray(v) for k, v in arrays.items()}
        view = self.repair_view(a["beta"].shape[0])
        return FittedTwoLayer(
            view, a["X"], a.get("y", np.zeros(0)), a["W0"], a["beta0"], a.get("beta_start", a["beta0"]),
            a["W"], a["beta"], a.get("loss_history", np.zeros(0)), fit_info_from_arrays(a),
        )  # fmt: skip

    def check_data(self) -> None:
        self.load()

    def n_parameters(self) -> int:
        a = self.load()
        return int(a.W.size + a.beta.size)
