"""Sweep configuration: a TOML file -> a validated, frozen `SweepConfig`.

Tables: ``[sweep]`` (name, seed, trials, cells_per_shard, output), ``[grid]`` (epsilon as a
list or ``{start, stop, step}``), ``[repair]`` (solver, tolerance, mode, device),
``[corruption]`` (the law Q), ``[executor]`` (backend + backend options) and
``[[models]]`` (one table per model, ``kind`` selects the model kind).

Everything is checked before anything is written; a problem raises `ConfigError`, a
`UserError` whose one-line message names the file and the key, e.g.
``sweep.toml: grid.epsilon[3]: must be in [0, 1], got 1.2``.

Relative data paths in model tables resolve against the config file's folder; with
``data_dir`` every data path is looked up in that folder by its file name instead.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelrepair.corruption import CorruptionSpec
from modelrepair.errors import DataFileError, SpecError, UserError
from modelrepair.models import ModelSpec, RepairSettings, spec_from_dict
from modelrepair.validation import require, spec_from_mapping

TOP_LEVEL = ("sweep", "grid", "repair", "corruption", "executor", "models")
#: Field names treated as data paths when a spec class declares no ``path_fields``.
DEFAULT_PATH_FIELDS = frozenset({"data", "labels", "path", "data_path", "labels_path", "data_dir"})
MAX_SEED = 2**32 - 1


class ConfigError(UserError):
    """An invalid sweep config; the message starts with the config file's name."""


@dataclass(frozen=True)
class SweepSection:
    """``[sweep]``: identity, randomness and sharding of the sweep."""

    name: str = ""
    seed: int = 0
    trials: int = 20
    cells_per_shard: int = 10
    output: str = ""

    def __post_init__(self) -> None:
        require(0 <= self.seed <= MAX_SEED, "seed", f"must be in [0, {MAX_SEED}], got {self.seed}")
        require(self.trials > 0, "trials", f"must be a positive integer, got {self.trials}")
        require(self.cells_per_shard > 0, "cells_per_shard", f"must be a positive integer, got {self.cells_per_shard}")
        require("/" not in self.name and self.name.strip() == self.name, "name",
                f"must be a plain name without '/' or surrounding spaces, got {self.name!r}")


@dataclass(frozen=True)
class RepairSection:
    """``[repair]``: LAD backend, exactness tolerance, mode and device."""

    solver: str = "batched"
    tolerance: float = 1e-6
    mode: str = "full"
    device: str = "cpu"

    def __post_init__(self) -> None:
        require(self.mode in ("full", "early_stop"), "mode", f"expected one of 'full', 'early_stop', got {self.mode!r}")
        require(self.tolerance > 0, "tolerance", f"must be > 0, got {self.tolerance}")


@dataclass(frozen=True)
class ExecutorConfig:
    """``[executor]``: backend name and its (backend-validated) options."""

    backend: str = "local"
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: what to run (models x epsilon x trials) and how."""

    sweep: SweepSection
    epsilon: tuple[float, ...]
    repair: RepairSettings
    models: tuple[ModelSpec, ...]
    executor: ExecutorConfig
    source: str = ""

    @property
    def name(self) -> str:
        return self.sweep.name

    def output_dir(self, override: str | Path | None = None) -> Path:
        """The sweep folder: ``override``, else ``sweep.output`` (relative to the CWD)."""
        return Path(override or self.sweep.output or f"sweeps/{self.sweep.name}").absolute()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in the manifest)."""
        repair = dataclasses.asdict(self.repair)
        corruption = repair.pop("corruption")
        return {
            "sweep": dataclasses.asdict(self.sweep),
            "grid": {"epsilon": list(self.epsilon)},
            "repair": repair,
            "corruption": corruption,
            "executor": {"backend": self.executor.backend, **dict(self.executor.options)},
            "models": [m.to_dict() for m in self.models],
        }


def settings_from_dict(repair: Mapping[str, Any], corruption: Mapping[str, Any]) -> RepairSettings:
    """Rebuild RepairSettings from the manifest's ``repair`` and ``corruption`` tables."""
    return RepairSettings(corruption=CorruptionSpec(**corruption), **repair)


def expand_epsilon(value: Any, where: str = "grid.epsilon") -> tuple[float, ...]:
    """A list of eps values, or ``{start, stop, step}`` (stop included), each in [0, 1]."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"start", "stop", "step"})
        if unknown:
            raise SpecError(f"{where}.{unknown[0]}", "unknown key (allowed: start, step, stop)")
        for key in ("start", "stop", "step"):
            if key not in value:
                raise SpecError(f"{where}.{key}", "required key is missing")
            v = value[key]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SpecError(f"{where}.{key}", f"expected a number, got {v!r}")
        start, stop, step = float(value["start"]), float(value["stop"]), float(value["step"])
        require(step > 0, f"{where}.step", f"must be > 0, got {step}")
        require(stop >= start, f"{where}.stop", f"must be >= start ({start}), got {stop}")
        count = math.floor((stop - start) / step + 1e-9) + 1
        values = [round(start + k * step, 12) for k in range(count)]
        where_of = [f"{where}.stop" if k == count - 1 else f"{where}.start" for k in range(count)]
    elif isinstance(value, (list, tuple)):
        require(len(value) > 0, where, "must not be empty (give at least one eps value)")
        values, where_of = [], []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SpecError(f"{where}[{i}]", f"expected a number, got {v!r}")
            values.append(float(v))
            where_of.append(f"{where}[{i}]")
    else:
        raise SpecError(where, f"expected a list of numbers or a table {{start, stop, step}}, got {value!r}")
    seen: dict[float, str] = {}
    for v, w in zip(values, where_of, strict=True):
        require(math.isfinite(v) and 0.0 <= v <= 1.0, w, f"must be in [0, 1], got {v}")
        require(v not in seen, w, f"duplicate value {v} (also {seen.get(v)})")
        seen[v] = w
    return tuple(values)


def _path_fields(obj: Any) -> frozenset[str]:
    declared = getattr(type(obj), "path_fields", None)
    return frozenset(declared) if declared is not None else DEFAULT_PATH_FIELDS


def path_fields_of(spec: Any) -> frozenset[str]:
    """All field names treated as data paths in ``spec`` and its nested dataclasses."""
    names = set(_path_fields(spec))
    for f in dataclasses.fields(spec):
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            names |= path_fields_of(value)
    return frozenset(names)


def resolve_paths(spec: Any, base: Path, data_dir: Path | None) -> Any:
    """Return ``spec`` with its data paths made absolute (recursing into nested dataclasses)."""
    changes: dict[str, Any] = {}
    for f in dataclasses.fields(spec):
        if not f.init:
            continue
        value = getattr(spec, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            new = resolve_paths(value, base, data_dir)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, str) and value and f.name in _path_fields(spec):
            p = Path(value).expanduser()
            if data_dir is not None:
                p = data_dir / p.name
            elif not p.is_absolute():
                p = base / p
            changes[f.name] = str(p.resolve())
    return dataclasses.replace(spec, **changes) if changes else spec


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise SpecError(key, f"expected a table [{key}], got {value!r}")
    return value


def _check_solver(name: str) -> None:
    from modelrepair.lad import DEFAULT_SOLVER, available_solvers

    if name == DEFAULT_SOLVER:
        return
    known = available_solvers()
    require(name in known, "repair.solver", f"unknown LAD solver {name!r} (available: {', '.join(known)})")


def config_from_dict(
    data: Mapping[str, Any], *, base_dir: Path, default_name: str, data_dir: Path | None = None, source: str = ""
) -> SweepConfig:
    """Validate a parsed TOML document. Raises SpecError / DataFileError (not yet prefixed)."""
    from jobs.executors import backend_class

    unknown = sorted(set(data) - set(TOP_LEVEL))
    if unknown:
        raise SpecError(unknown[0], f"unknown table or key (allowed: {', '.join(TOP_LEVEL)})")
    sweep = spec_from_mapping(SweepSection, _table(data, "sweep"), "sweep")
    if not sweep.name:
        sweep = dataclasses.replace(sweep, name=default_name)
    grid = _table(data, "grid")
    unknown = sorted(set(grid) - {"epsilon"})
    if unknown:
        raise SpecError(f"grid.{unknown[0]}", "unknown key (allowed: epsilon)")
    if "epsilon" not in grid:
        raise SpecError("grid.epsilon", "required key is missing (a list of eps values or {start, stop, step})")
    epsilon = expand_epsilon(grid["epsilon"])
    repair = spec_from_mapping(RepairSection, _table(data, "repair"), "repair")
    _check_solver(repair.solver)
    corruption = spec_from_mapping(CorruptionSpec, _table(data, "corruption"), "corruption")
    settings = RepairSettings(repair.solver, repair.tolerance, repair.mode, corruption, repair.device)  # type: ignore[arg-type]

    executor_table = dict(_table(data, "executor"))
    backend = executor_table.pop("backend", "local")
    if not isinstance(backend, str):
        raise SpecError("executor.backend", f"expected a string, got {backend!r}")
    cls = backend_class(backend, "executor.backend")
    options = cls.validate_options(executor_table, "executor")
    executor = ExecutorConfig(backend, dataclasses.asdict(options))

    raw_models = data.get("models")
    if raw_models is None:
        raise SpecError("models", "no [[models]] table: give at least one model")
    if not isinstance(raw_models, list) or not raw_models:
        raise SpecError("models", f"expected one or more [[models]] tables, got {raw_models!r}")
    models: list[ModelSpec] = []
    names: dict[str, int] = {}
    for i, table in enumerate(raw_models):
        where = f"models[{i}]"
        spec = spec_from_dict(table, where)
        require(bool(spec.name), f"{where}.name", "every model needs a non-empty name")
        require(spec.name not in names, f"{where}.name", f"duplicate model name {spec.name!r} (also models[{names.get(spec.name)}])")
        names[spec.name] = i
        spec = resolve_paths(spec, base_dir, data_dir)
        try:
            spec.check_data()
        except DataFileError as err:
            raise SpecError(f"{where} ({spec.name})", str(err)) from None
        except SpecError as err:
            raise SpecError(f"{where}.{err.field}", str(err).split(": ", 1)[1]) from None
        models.append(spec)
    return SweepConfig(sweep, epsilon, settings, tuple(models), executor, source)


def load_config(path: str | Path, *, data_dir: str | Path | None = None) -> SweepConfig:
    """Read and validate a sweep TOML file; any problem raises ConfigError naming the key."""
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise ConfigError(f"{label}: config file not found")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{label}: invalid TOML: {err}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{label}: cannot read: {err}") from None
    return _validated(data, label, path.resolve().parent, path.stem, data_dir, str(path.resolve()))


def load_default_config(*, data_dir: str | Path | None = None) -> SweepConfig:
    """The embedded default sweep (jobs/defaults/default.toml)."""
    text = resources.files("jobs").joinpath("defaults/default.toml").read_text()
    return _validated(tomllib.loads(text), "default.toml", Path.cwd(), "default", data_dir, "<default>")


def _validated(data: Mapping[str, Any], label: str, base: Path, stem: str, data_dir: Any, source: str) -> SweepConfig:
    ddir = Path(data_dir).resolve() if data_dir is not None else None
    if ddir is not None and not ddir.is_dir():
        raise ConfigError(f"--data-dir {data_dir}: not a folder")
    try:
        return config_from_dict(data, base_dir=base, default_name=stem, data_dir=ddir, source=source)
    except UserError as err:
        raise ConfigError(f"{label}: {err}") from None
