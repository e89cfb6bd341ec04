"""The one small interface between a model kind and whoever runs sweeps.

A *model kind* is a frozen spec dataclass (subclass of `ModelSpec`, registered with
`register_model_kind`) whose ``fit(seed)`` returns a `FittedModel`. A fitted model
repairs one cell: ``repair_cell(eps, rng, settings) -> CellOutcome``. Fitted models
serialise to a dict of numpy arrays so callers may cache them (content-addressed by
``spec.content_hash()``); this package does not know where caches live.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import numpy as np

from modelrepair.corruption import CorruptionSpec
from modelrepair.errors import SpecError
from modelrepair.outcome import CellOutcome
from modelrepair.validation import require, spec_from_mapping

RepairMode = Literal["early_stop", "full"]


@dataclass(frozen=True)
class RepairSettings:
    """How a cell is repaired: LAD backend, exactness tolerance, mode, corruption law Q."""

    solver: str = "highs"
    tolerance: float = 1e-6
    mode: RepairMode = "full"
    corruption: CorruptionSpec = field(default_factory=CorruptionSpec)
    device: str = "cpu"

    def __post_init__(self) -> None:
        require(self.tolerance > 0, "tolerance", f"must be > 0, got {self.tolerance}")


class FittedModel(Protocol):
    """A trained model ready to be corrupted and repaired."""

    spec: ModelSpec
    fit_info: dict[str, float]

    def repair_cell(
        self, eps: float, rng: np.random.Generator, settings: RepairSettings
    ) -> CellOutcome: ...

    def to_arrays(self) -> dict[str, np.ndarray]: ...


@dataclass(frozen=True)
class ModelSpec:
    """Base of every model kind's spec. ``name`` labels the model in results."""

    kind: ClassVar[str] = ""
    #: True for kinds whose fit is expensive enough to cache on disk (neural nets).
    cacheable: ClassVar[bool] = False
    name: str = ""

    def fit(self, seed: np.random.SeedSequence) -> FittedModel:
        raise NotImplementedError

    def from_arrays(self, arrays: Mapping[str, np.ndarray]) -> FittedModel:
        """Rebuild the fitted model from ``FittedModel.to_arrays()`` output."""
        raise NotImplementedError

    def check_data(self) -> None:
        """Raise DataFileError if a data file the spec names is missing or malformed."""

    def n_parameters(self) -> int:
        """Number of repaired parameters (for plots and diagnosis)."""
        return 0

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["kind"] = self.kind
        return d

    def content_hash(self) -> str:
        """sha256 over the spec's canonical JSON (kind included)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


_KINDS: dict[str, type[ModelSpec]] = {}


def register_model_kind(cls: type[ModelSpec]) -> type[ModelSpec]:
    """Class decorator: make ``cls`` selectable as ``kind = cls.kind`` in configs."""
    assert cls.kind, "a model kind needs a non-empty `kind`"
    _KINDS[cls.kind] = cls
    return cls


def model_kinds() -> dict[str, type[ModelSpec]]:
    from modelrepair.models import _load_builtin

    _load_builtin()
    return dict(_KINDS)


def spec_from_dict(data: Mapping[str, Any], where: str = "model") -> ModelSpec:
    """Build a validated ModelSpec from a config table with a ``kind`` key."""
    kinds = model_kinds()
    if not isinstance(data, Mapping):
        raise SpecError(where, f"expected a table, got {data!r}")
    kind = data.get("kind")
    if kind not in kinds:
        raise SpecError(f"{where}.kind", f"expected one of {', '.join(sorted(kinds))}, got {kind!r}")
    rest = {k: v for k, v in data.items() if k != "kind"}
    return spec_from_mapping(kinds[kind], rest, where)
