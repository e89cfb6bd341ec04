"""Grid expansion (model x eps x trial), per-cell seeds and sharding.

Cells are numbered in grid order: ``cell_id = (m * n_eps + e) * trials + t`` for the m-th
model, e-th eps value and trial t. Randomness never depends on where a cell lands:

- model key ``k``: a stable 32-bit int from the model spec's content (data paths reduced
  to file names), not its position in the config;
- cell seed ``SeedSequence([seed, k, eps_index, trial])`` (4 words);
- fit seed ``SeedSequence([seed, k, 0], spawn_key=(1,))``: the spawn key makes its
  entropy 5 words, so fit and cell streams can never coincide.

A shard holds up to ``cells_per_shard`` consecutive cells of ONE model, so a shard fits
its model once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import numpy as np

FIT_SPAWN_KEY = (1,)


@dataclass(frozen=True)
class Cell:
    """One (model, eps, trial) repair experiment."""

    cell_id: int
    model: str
    eps_index: int
    epsilon: float
    trial: int


@dataclass(frozen=True)
class ShardPlan:
    """Cells ``cell_start <= cell_id < cell_stop`` of model ``model``."""

    shard_id: str
    model: str
    cell_start: int
    cell_stop: int

    @property
    def n_cells(self) -> int:
        return self.cell_stop - self.cell_start


def shard_name(index: int) -> str:
    return f"shard-{index:05d}"


def normalized_spec(spec_dict: dict[str, Any], path_fields: frozenset[str]) -> dict[str, Any]:
    """Spec dict with data paths reduced to file names (location-independent identity)."""
    out: dict[str, Any] = {}
    for key, value in spec_dict.items():
        if isinstance(value, dict):
            out[key] = normalized_spec(value, path_fields)
        elif isinstance(value, str) and key in path_fields and value:
            out[key] = PurePath(value).name
        else:
            out[key] = value
    return out


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def model_key(spec_dict: dict[str, Any], path_fields: frozenset[str]) -> int:
    """Stable 32-bit id of a model from its content (names included, position excluded)."""
    digest = hashlib.sha256(canonical_json(normalized_spec(spec_dict, path_fields)).encode()).hexdigest()
    return int(digest[:8], 16)


def cell_seed(sweep_seed: int, key: int, eps_index: int, trial: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([sweep_seed, key, eps_index, trial])


def fit_seed(sweep_seed: int, key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([sweep_seed, key, 0], spawn_key=FIT_SPAWN_KEY)


@dataclass(frozen=True)
class Grid:
    """The full grid of a sweep: model names in order, eps values, trials per (model, eps)."""

    models: tuple[str, ...]
    epsilon: tuple[float, ...]
    trials: int

    @property
    def n_cells(self) -> int:
        return len(self.models) * len(self.epsilon) * self.trials

    def cell(self, cell_id: int) -> Cell:
        per_model = len(self.epsilon) * self.trials
        m, rest = divmod(cell_id, per_model)
        e, t = divmod(rest, self.trials)
        return Cell(cell_id, self.models[m], e, self.epsilon[e], t)

    def cells(self, start: int = 0, stop: int | None = None) -> list[Cell]:
        stop = self.n_cells if stop is None else stop
        return [self.cell(i) for i in range(start, stop)]


def make_shards(grid: Grid, cells_per_shard: int) -> tuple[ShardPlan, ...]:
    """Consecutive runs of at most ``cells_per_shard`` cells, never spanning two models."""
    per_model = len(grid.epsilon) * grid.trials
    shards: list[ShardPlan] = []
    for m, name in enumerate(grid.models):
        base = m * per_model
        for start in range(0, per_model, cells_per_shard):
            stop = min(per_model, start + cells_per_shard)
            shards.append(ShardPlan(shard_name(len(shards)), name, base + start, base + stop))
    return tuple(shards)


def grid_columns(grid: Grid) -> dict[str, list[Any]]:
    """All cells as columns (cell_id, model, eps_index, epsilon, trial) for the manifest."""
    cols: dict[str, list[Any]] = {f.name: [] for f in dataclasses.fields(Cell)}
    for c in grid.cells():
        for f in cols:
            cols[f].append(getattr(c, f))
    return cols


def diagnose_models(specs: Any) -> dict[str, dict[str, Any]]:
    """Repairability diagnosis (JSON-able) of every model spec that offers one (``spec.diagnose()``,
    e.g. kind "external"), keyed by model name; computed at plan time, before anything runs."""
    return {spec.name: spec.diagnose() for spec in specs if callable(getattr(spec, "diagnose", None))}
