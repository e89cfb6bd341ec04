"""Two-layer network ``f(x) = s * beta^T phi(W^T x)`` trained by GD, repaired layer by layer.

Training (see `modelrepair.training`) leaves ``W - W(0) = X^T V`` and, when layerwise,
``beta - beta_start = phi(X W)^T u``. Repair of one cell (corruption drawn independently
per layer, W first, then beta, from the cell rng):

- layer "W": for each hidden unit j, ``v~_j = argmin ||Eta_j - W_j(0) - X^T v||_1``,
  ``W~_j = W_j(0) + X^T v~_j`` (all p units batched, one design ``X^T``);
- layer "beta": ``u~ = argmin ||eta_beta - beta_start - Xt^T u||_1`` with
  ``Xt = s phi(X W~)`` from the *repaired* W; ``beta~ = beta_start + Xt^T u~``.

In ``early_stop`` mode layer "beta" is attempted only if "W" was repaired exactly; in
``full`` mode whenever W~ is finite. A layer not attempted reports ``exact=False``,
``attempted=False``, NaN errors and 0 units repaired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from modelrepair.corruption import corrupt
from modelrepair.errors import SpecError
from modelrepair.models.base import ModelSpec, RepairSettings, register_model_kind
from modelrepair.models.linear import DesignSpec
from modelrepair.outcome import CellOutcome, LayerOutcome
from modelrepair.repair import repair_layer
from modelrepair.training import Activation, Training, hidden_features, rowspace_residual
from modelrepair.validation import require

LabelMap = Literal["thesis", "raw", "pm1"]
OutputScaling = Literal["none", "inv_sqrt_p"]


def map_labels(y: np.ndarray, label_map: LabelMap) -> np.ndarray:
    """Colon 0/1 tumor labels -> response. ``thesis``: healthy 1 / tumor 2 (y = 1 + tumor);
    ``raw``: 0 / 1 as in the file; ``pm1``: healthy -1 / tumor +1."""
    y = np.asarray(y, float)
    if label_map == "thesis":
        return 1.0 + y
    if label_map == "pm1":
        return 2.0 * y - 1.0
    return y


def build_design(design: DesignSpec, label_map: LabelMap, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) from the design spec; labels read from a file are mapped by ``label_map``."""
    X, y = design.build(rng)
    if design.source == "colon" and design.labels is not None:
        y = map_labels(y, label_map)
    return X, y


def not_attempted(name: str, units: int, n_corrupted: int) -> LayerOutcome:
    """Outcome of a layer whose repair was skipped (its input layer was not repaired)."""
    return LayerOutcome(name, False, float("nan"), float("nan"), 0, units, int(n_corrupted), attempted=False)


@dataclass
class FittedTwoLayer:
    """A trained network: data, initial and trained weights, the layer-2 offset."""

    spec: TwoLayerSpec
    X: np.ndarray
    y: np.ndarray
    W0: np.ndarray
    beta0: np.ndarray
    beta_start: np.ndarray
    W: np.ndarray
    beta: np.ndarray
    loss_history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fit_info: dict[str, float] = field(default_factory=dict)

    def repair_cell(self, eps: float, rng: np.random.Generator, settings: RepairSettings) -> CellOutcome:
        eta_W, mask_W = corrupt(self.W, eps, settings.corruption, rng)
        eta_b, mask_b = corrupt(self.beta, eps, settings.corruption, rng)
        rW = repair_layer("W", self.X.T, eta_W, self.W0, self.W, int(mask_W.sum()), settings)
        W_tilde = rW.repaired
        attempt = bool(rW.solver_ok and np.all(np.isfinite(W_tilde)))
        if settings.mode == "early_stop":
            attempt = attempt and rW.outcome.exact
        layers = [rW.outcome]
        seconds, certified, solved = rW.seconds, rW.certified, rW.solved_units
        solver_ok = rW.solver_ok
        extras = {"seconds_W": rW.seconds, "seconds_beta": 0.0, "beta_attempted": float(attempt)}
        if attempt:
            Xt = hidden_features(self.X, W_tilde, self.spec.activation, self.spec.scale)
            rb = repair_layer(
                "beta", Xt.T, eta_b, self.beta_start, self.beta, int(mask_b.sum()), settings
            )
            layers.append(rb.outcome)
            seconds += rb.seconds
            certified += rb.certified
            solved += rb.solved_units
            solver_ok = solver_ok and rb.solver_ok
            extras["seconds_beta"] = rb.seconds
        else:
            layers.append(not_attempted("beta", 1, int(mask_b.sum())))
        status = "ok" if solver_ok else "solver_failed"
        cert = certified / max(1, solved)
        return CellOutcome(tuple(layers), status, seconds, cert, extras=extras)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            "X": self.X,
            "y": self.y,
            "W0": self.W0,
            "beta0": self.beta0,
            "beta_start": self.beta_start,
            "W": self.W,
            "beta": self.beta,
            "loss_history": self.loss_history,
        }
        arrays.update({f"fit_info.{k}": np.asarray(float(v)) for k, v in self.fit_info.items()})
        return arrays


def fit_info_from_arrays(arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Inverse of the ``fit_info.<key>`` entries written by ``to_arrays``."""
    return {k.split(".", 1)[1]: float(v) for k, v in arrays.items() if k.startswith("fit_info.")}


@register_model_kind
@dataclass(frozen=True)
class TwoLayerSpec(ModelSpec):
    """``kind = "twolayer"``: ``f(x) = s beta^T phi(W^T x)`` with ``hidden`` = p units.

    ``design.p`` is the input dimension d. W(0) ~ N(0, w_init_sd^2) (default 1/sqrt(d)),
    beta(0) ~ N(0, beta_init_sd^2) (default 1/sqrt(p)), drawn with numpy from the fit seed
    after the design. ``beta_init`` is where layerwise phase 2 restarts beta: "zero" (the
    thesis) or "random" (= beta(0)). ``steps``/``lr`` drive phase 1, ``beta_steps``/``beta_lr``
    (default: the same) phase 2. ``threads``: CPU threads torch trains with.
    """

    kind = "twolayer"
    cacheable = True
    design: DesignSpec = field(default_factory=DesignSpec)
    hidden: int = 200
    activation: Activation = "tanh"
    output_scaling: OutputScaling = "none"
    training: Training = "layerwise"
    beta_init: Literal["zero", "random"] = "zero"
    steps: int = 1000
    lr: float = 0.01
    beta_steps: int | None = None
    beta_lr: float | None = None
    w_init_sd: float | None = None
    beta_init_sd: float | None = None
    label_map: LabelMap = "thesis"
    device: str = "cpu"
    threads: int = 1

    def __post_init__(self) -> None:
        require(self.hidden > 0, "hidden", f"must be a positive integer, got {self.hidden}")
        require(self.steps >= 0, "steps", f"must be >= 0, got {self.steps}")
        require(self.lr > 0, "lr", f"must be > 0, got {self.lr}")
        require(self.threads > 0, "threads", f"must be a positive integer, got {self.threads}")
        require(self.beta_steps is None or self.beta_steps >= 0, "beta_steps", f"must be >= 0, got {self.beta_steps}")
        require(self.beta_lr is None or self.beta_lr > 0, "beta_lr", f"must be > 0, got {self.beta_lr}")
        for name in ("w_init_sd", "beta_init_sd"):
            v = getattr(self, name)
            require(v is None or v >= 0, name, f"must be >= 0, got {v}")

    @property
    def scale(self) -> float:
        return 1.0 / np.sqrt(self.hidden) if self.output_scaling == "inv_sqrt_p" else 1.0

    def init_weights(self, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """W(0) (d x p) and beta(0) (p) from ``rng`` (numpy, so identical on every device)."""
        w_sd = 1.0 / np.sqrt(d) if self.w_init_sd is None else self.w_init_sd
        b_sd = 1.0 / np.sqrt(self.hidden) if self.beta_init_sd is None else self.beta_init_sd
        W0 = rng.normal(0.0, w_sd, size=(d, self.hidden))
        beta0 = rng.normal(0.0, b_sd, size=self.hidden)
        return W0, beta0

    def fit(self, seed: np.random.SeedSequence) -> FittedTwoLayer:
        from modelrepair.training import train_two_layer

        self._check_device()
        rng = np.random.default_rng(seed)
        X, y = build_design(self.design, self.label_map, rng)
        W0, beta0 = self.init_weights(X.shape[1], rng)
        start = np.zeros_like(beta0) if self.beta_init == "zero" else beta0
        try:
            res = train_two_layer(
                X, y, W0, beta0,
                activation=self.activation, scale=self.scale, steps=self.steps, lr=self.lr,
                training=self.training, beta_start=start, beta_steps=self.beta_steps,
                beta_lr=self.beta_lr, device=self.device, threads=self.threads,
            )  # fmt: skip
        except FloatingPointError as err:
            field_name = "beta_lr" if "output-layer" in str(err) and self.beta_lr else "lr"
            raise SpecError(f"{self.name or self.kind}.{field_name}", str(err)) from None
        Phi = hidden_features(X, res.W, self.activation, self.scale)
        info = {
            "train_seconds": res.seconds,
            "loss_initial": res.loss_initial,
            "loss_after_joint": res.loss_after_joint,
            "loss_final": res.loss_final,
            "W_rowspace_residual": rowspace_residual(X.T, res.W - W0),
            "beta_rowspace_residual": rowspace_residual(Phi.T, res.beta - res.beta_start),
        }
        return FittedTwoLayer(
            self, X, y, W0, beta0, res.beta_start, res.W, res.beta, res.loss_history, info
        )

    def _check_device(self) -> None:
        import torch

        where = f"{self.name or self.kind}.device"
        try:
            dev = torch.device(self.device)
        except RuntimeError:
            raise SpecError(where, f"not a torch device: {self.device!r} (use \"cpu\" or \"cuda\")") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise SpecError(where, "CUDA is not available on this machine; use device = \"cpu\"")

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedTwoLayer:
        a = {k: np.asarray(v) for k, v in arrays.items()}
        return FittedTwoLayer(
            self, a["X"], a["y"], a["W0"], a["beta0"], a["beta_start"], a["W"], a["beta"],
            a.get("loss_history", np.zeros(0)), fit_info_from_arrays(a),
        )  # fmt: skip

    def check_data(self) -> None:
        self.design.check_data()

    def n_parameters(self) -> int:
        return self.design.p * self.hidden + self.hidden
