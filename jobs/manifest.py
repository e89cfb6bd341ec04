"""The sweep manifest: ``<sweep_dir>/manifest.json``, the single source of truth of a sweep.

It holds the validated config, the model specs (with their stable keys), the grid (all
cells as columns), the shards and a content hash: sha256 of the canonical JSON of what
determines results (sweep name/seed/trials/cells_per_shard, eps grid, repair settings,
corruption, model specs with data paths reduced to file names). Timestamps, executor
options and the output folder are excluded, so changing ``workers`` or moving the sweep
does not invalidate finished shards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.config import SweepConfig, path_fields_of, settings_from_dict
from jobs.fsutil import atomic_write_text
from jobs.plan import (
    Cell,
    Grid,
    ShardPlan,
    canonical_json,
    diagnose_models,
    fit_seed,
    grid_columns,
    make_shards,
    model_key,
    normalized_spec,
)
from modelrepair.errors import UserError
from modelrepair.models import ModelSpec, RepairSettings, spec_from_dict

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1


class ManifestError(UserError):
    """manifest.json is missing, unreadable, or differs from the config being run."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    key: int
    spec: dict[str, Any]
    spec_hash: str
    path_fields: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    """Everything a shard runner needs, loaded from or written to manifest.json."""

    sweep_name: str
    hash: str
    created: str
    seed: int
    cells_per_shard: int
    config: dict[str, Any]
    models: tuple[ModelEntry, ...]
    grid: Grid
    shards: tuple[ShardPlan, ...]
    #: model name -> repairability diagnosis (external models); not part of the hash
    diagnosis: dict[str, Any] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------
    def model(self, name: str) -> ModelEntry:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)

    def spec(self, name: str) -> ModelSpec:
        return spec_from_dict(self.model(name).spec, f"manifest.models[{name}]")

    def settings(self) -> RepairSettings:
        return settings_from_dict(self.config["repair"], self.config["corruption"])

    def shard(self, shard_id: str) -> ShardPlan:
        for s in self.shards:
            if s.shard_id == shard_id:
                return s
        raise ManifestError(f"{shard_id}: no such shard in sweep {self.sweep_name!r} ({len(self.shards)} shards)")

    def cells(self, shard: ShardPlan) -> list[Cell]:
        return self.grid.cells(shard.cell_start, shard.cell_stop)

    def fit_seed(self, name: str):
        return fit_seed(self.seed, self.model(name).key)

    @property
    def executor(self) -> dict[str, Any]:
        return dict(self.config.get("executor", {"backend": "local"}))

    # ---- (de)serialisation -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "sweep_name": self.sweep_name,
            "hash": self.hash,
            "created": self.created,
            "seed": self.seed,
            "cells_per_shard": self.cells_per_shard,
            "config": self.config,
            "models": [dataclasses.asdict(m) for m in self.models],
            "epsilon": list(self.grid.epsilon),
            "trials": self.grid.trials,
            "cells": grid_columns(self.grid),
            "shards": [
                {**dataclasses.asdict(s), "cell_ids": {"start": s.cell_start, "stop": s.cell_stop}} for s in self.shards
            ],
            "diagnosis": self.diagnosis,
        }

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Manifest:
        models = tuple(
            ModelEntry(m["name"], int(m["key"]), m["spec"], m["spec_hash"], tuple(m["path_fields"])) for m in d["models"]
        )
        grid = Grid(tuple(m.name for m in models), tuple(float(e) for e in d["epsilon"]), int(d["trials"]))
        shards = tuple(ShardPlan(s["shard_id"], s["model"], int(s["cell_start"]), int(s["cell_stop"])) for s in d["shards"])
        return Manifest(d["sweep_name"], d["hash"], d["created"], int(d["seed"]), int(d["cells_per_shard"]),
                        d["config"], models, grid, shards, dict(d.get("diagnosis", {})))

    def write(self, sweep_dir: Path) -> Path:
        return atomic_write_text(Path(sweep_dir) / MANIFEST, json.dumps(self.to_dict(), indent=1, sort_keys=True) + "\n")


def hash_payload(config: SweepConfig, models: tuple[ModelEntry, ...]) -> dict[str, Any]:
    d = config.to_dict()
    sweep = {k: v for k, v in d["sweep"].items() if k != "output"}
    return {
        "sweep": sweep,
        "epsilon": d["grid"]["epsilon"],
        "repair": d["repair"],
        "corruption": d["corruption"],
        "models": [normalized_spec(m.spec, frozenset(m.path_fields)) for m in models],
    }


def build_manifest(config: SweepConfig) -> Manifest:
    """Plan a sweep: model keys, grid, shards and the content hash (nothing written)."""
    entries = []
    keys: dict[int, str] = {}
    for spec in config.models:
        fields = path_fields_of(spec)
        d = spec.to_dict()
        key = model_key(d, fields)
        if key in keys:
            raise UserError(f"models {keys[key]!r} and {spec.name!r} have the same content key; rename one")
        keys[key] = spec.name
        entries.append(ModelEntry(spec.name, key, d, spec.content_hash(), tuple(sorted(fields))))
    models = tuple(entries)
    digest = hashlib.sha256(canonical_json(hash_payload(config, models)).encode()).hexdigest()
    grid = Grid(tuple(m.name for m in models), config.epsilon, config.sweep.trials)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return Manifest(config.name, digest, created, config.sweep.seed, config.sweep.cells_per_shard,
                    config.to_dict(), models, grid, make_shards(grid, config.sweep.cells_per_shard),
                    diagnose_models(config.models))


def load_manifest(sweep_dir: str | Path) -> Manifest:
    path = Path(sweep_dir) / MANIFEST
    if not path.is_file():
        raise ManifestError(f"{sweep_dir}: no {MANIFEST} here; is this a sweep folder? (create one with `mrsweep plan CONFIG`)")
    try:
        return Manifest.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as err:
        raise ManifestError(f"{path}: unreadable manifest ({type(err).__name__}: {err}); re-plan with `mrsweep plan CONFIG --new`") from None


def changed_keys(old: Manifest, new: Manifest) -> list[str]:
    """Top-level config sections (and models) that differ between two manifests."""
    out = []
    for key in sorted(set(old.config) | set(new.config)):
        if key == "executor":
            continue
        if key == "sweep":
            a = {k: v for k, v in old.config.get(key, {}).items() if k != "output"}
            b = {k: v for k, v in new.config.get(key, {}).items() if k != "output"}
            out += [f"sweep.{k}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
        elif key == "models":
            a = {m.name: normalized_spec(m.spec, frozenset(m.path_fields)) for m in old.models}
            b = {m.name: normalized_spec(m.spec, frozenset(m.path_fields)) for m in new.models}
            out += [f"models[{n}]" for n in sorted(set(a) | set(b)) if a.get(n) != b.get(n)]
            if list(a) != list(b) and not out:
                out.append("models (order)")
        elif old.config.get(key) != new.config.get(key):
            out.append(key)
    return out
