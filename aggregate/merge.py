"""Merge a sweep's shard files into one dataset along ``cell``: validate, dedupe, find gaps.

Every file is opened, loaded into memory and closed at once (no file stays open). Bad
files (unreadable, wrong schema, foreign manifest, wrong cell set) are excluded and named;
``*.nc.tmp-*`` writer leftovers are ignored. Without ``allow_partial`` any problem raises
`MergeError` (a `UserError`: the CLI prints it and exits non-zero).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from aggregate import schema as S
from modelrepair.errors import UserError

MANIFEST_NAME = "manifest.json"
#: variables ignored when deciding whether two copies of a cell are identical
TIMING_VARS = (S.VAR_SOLVE_SECONDS,)
#: global attributes kept on the merged dataset when all shards agree
KEPT_ATTRS = (S.ATTR_SWEEP_NAME, S.ATTR_MANIFEST_HASH, S.ATTR_SOLVER, S.ATTR_SOLVER_VERSION,
              S.ATTR_PACKAGE_VERSION, S.ATTR_SCHEMA_VERSION)
JSON_ATTRS = (S.ATTR_MODEL_SPECS, S.ATTR_LAYER_NAMES, S.ATTR_DIAGNOSIS)


class MergeError(UserError):
    """Shard files are corrupt, foreign, conflicting or missing (rerun with allow_partial)."""


@dataclass(frozen=True)
class ManifestInfo:
    """What aggregate needs from ``manifest.json`` (read as plain JSON; jobs/ is not imported)."""

    hash: str | None
    shard_cells: dict[str, tuple[int, ...]] | None  # shard_id -> cell ids; None = unknown
    models: tuple[str, ...] = ()
    sweep_name: str = ""

    @property
    def all_cells(self) -> set[int] | None:
        if self.shard_cells is None:
            return None
        return {c for cells in self.shard_cells.values() for c in cells}


@dataclass(frozen=True)
class MergeResult:
    """Merged cells (sorted by cell_id) and everything that went wrong on the way."""

    dataset: xr.Dataset | None
    files: tuple[Path, ...] = ()  # files merged
    bad: tuple[S.ShardCheck, ...] = ()  # excluded files with reasons
    ignored: tuple[Path, ...] = ()  # writer temp files, never read
    duplicates_dropped: int = 0
    conflicts: tuple[int, ...] = ()  # cell ids whose copies disagree (first file's copy kept)
    missing_cells: tuple[int, ...] = ()
    missing_shards: tuple[str, ...] = ()
    manifest_hash: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not (self.bad or self.conflicts or self.missing_cells or self.missing_shards)

    @property
    def n_cells(self) -> int:
        return 0 if self.dataset is None else int(self.dataset.sizes[S.DIM_CELL])

    def problems(self) -> list[str]:
        """One line per problem, naming files (empty when ``ok``)."""
        out = [f"{c.path.name}: {c.reason}" for c in self.bad]
        if self.conflicts:
            out.append(f"{len(self.conflicts)} cell(s) stored twice with different results, "
                       f"cell_id {_ids(self.conflicts)} (kept the copy in the first file by name)")
        if self.missing_shards:
            out.append(f"{len(self.missing_shards)} shard file(s) missing: {_ids(self.missing_shards)}")
        if self.missing_cells:
            out.append(f"{len(self.missing_cells)} cell(s) without a valid result, "
                       f"cell_id {_ids(self.missing_cells)}")
        return out

    def report(self) -> str:
        """Short multi-line text for the CLI."""
        lines = [f"merged {self.n_cells} cells from {len(self.files)} shard file(s)"]
        if self.duplicates_dropped:
            lines.append(f"dropped {self.duplicates_dropped} identical duplicate cell(s)")
        if self.ignored:
            lines.append(f"ignored {len(self.ignored)} temporary file(s)")
        lines += [f"problem: {p}" for p in self.problems()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _ids(items: Sequence[Any], limit: int = 8) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... (+{len(items) - limit})" if len(items) > limit else "")


def read_manifest(path: str | Path) -> ManifestInfo:
    """Read ``hash``, per-shard cells, model order and sweep name from a manifest JSON.

    Accepted shard layouts: ``"shards": [{"shard_id"|"id": ..., "cell_ids"|"cells": [...]}]``
    (cells as ints, as ``{"cell_id": ...}`` dicts, or ``{"start": a, "stop": b}``), or
    ``"shards": {shard_id: [cell ids]}``, or ``"cells": [{"cell_id": .., "shard_id": ..}]``.
    An unreadable manifest raises MergeError naming the file.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MergeError(f"{path}: cannot read the sweep manifest ({err}); re-run `mrsweep plan`") from err
    if not isinstance(doc, dict):
        raise MergeError(f"{path}: manifest is not a JSON object")
    mhash = doc.get("hash", doc.get("manifest_hash"))
    return ManifestInfo(
        hash=str(mhash) if mhash else None,
        shard_cells=_manifest_shards(doc),
        models=_manifest_models(doc),
        sweep_name=str(doc.get("sweep_name", doc.get("name", ""))),
    )


def _cell_list(value: Any) -> tuple[int, ...] | None:
    if isinstance(value, dict) and "start" in value and "stop" in value:
        return tuple(range(int(value["start"]), int(value["stop"])))
    if isinstance(value, list):
        out = []
        for v in value:
            if isinstance(v, dict):
                if "cell_id" not in v:
                    return None
                v = v["cell_id"]
            out.append(int(v))
        return tuple(out)
    return None


def _manifest_shards(doc: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    try:
        shards = doc.get("shards")
        result: dict[str, tuple[int, ...]] = {}
        if isinstance(shards, dict):
            for sid, value in shards.items():
                if isinstance(value, dict):
                    value = value.get("cell_ids", value.get("cells", value))
                cells = _cell_list(value)
                if cells is None:
                    return None
                result[str(sid)] = cells
            return result
        if isinstance(shards, list) and shards and isinstance(shards[0], dict):
            for entry in shards:
                sid = entry.get("shard_id", entry.get("id", entry.get("name")))
                cells = _cell_list(entry.get("cell_ids", entry.get("cells", entry)))
                if sid is None or cells is None:
                    return None
                result[str(sid)] = cells
            return result
        cells = doc.get("cells")
        if isinstance(cells, list) and cells and isinstance(cells[0], dict):
            grouped: dict[str, list[int]] = {}
            for c in cells:
                sid = c.get("shard_id", c.get("shard"))
                if sid is None or "cell_id" not in c:
                    return None
                grouped.setdefault(str(sid), []).append(int(c["cell_id"]))
            return {k: tuple(v) for k, v in grouped.items()}
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def _manifest_models(doc: dict[str, Any]) -> tuple[str, ...]:
    models = doc.get("models")
    if isinstance(models, dict):
        return tuple(str(k) for k in models)
    if isinstance(models, list):
        names = [m.get("name") if isinstance(m, dict) else m for m in models]
        if all(isinstance(n, str) and n for n in names):
            return tuple(names)
    return ()


def merge_sweep(
    sweep_dir: str | Path, *, allow_partial: bool = False, manifest_hash: str | None = None
) -> MergeResult:
    """Merge ``<sweep_dir>/shards/*.nc`` checked against ``<sweep_dir>/manifest.json`` if present.

    ``manifest_hash`` overrides the manifest's ``hash``. Without either, the hash held by
    most shards is expected and the others are reported as foreign. Raises MergeError on
    any problem unless ``allow_partial`` (then the problems are in the result).
    """
    sweep_dir = Path(sweep_dir)
    shard_dir = sweep_dir / S.SHARDS_DIRNAME
    if not shard_dir.is_dir():
        raise MergeError(f"{shard_dir}: no shards folder; run the sweep first (`mrsweep run`)")
    manifest_path = sweep_dir / MANIFEST_NAME
    info = read_manifest(manifest_path) if manifest_path.is_file() else None
    notes = []
    if info is not None and info.shard_cells is None:
        notes.append(f"{MANIFEST_NAME}: per-shard cells not understood; cell sets not checked")
    if info is None:
        notes.append(f"no {MANIFEST_NAME}: missing cells inferred from gaps in cell_id only")
    expected_hash = manifest_hash or (info.hash if info else None)
    paths = sorted(shard_dir.glob("*.nc"))
    ignored = tuple(sorted(p for p in shard_dir.iterdir() if S.is_temporary(p)))
    result = _merge(paths, expected_hash, info, ignored, notes)
    if not result.ok and not allow_partial:
        raise MergeError(_error_message(sweep_dir, result))
    return result


def merge_files(
    paths: Iterable[str | Path], *, allow_partial: bool = False, manifest_hash: str | None = None
) -> MergeResult:
    """Merge the given shard files (no manifest): validate, dedupe, concatenate along cell."""
    paths = [Path(p) for p in paths]
    ignored = tuple(p for p in paths if S.is_temporary(p))
    result = _merge([p for p in paths if not S.is_temporary(p)], manifest_hash, None, ignored, [])
    if not result.ok and not allow_partial:
        raise MergeError(_error_message(None, result))
    return result


def _error_message(sweep_dir: Path | None, result: MergeResult) -> str:
    where = f"{sweep_dir}: " if sweep_dir else ""
    return (f"{where}cannot aggregate: " + "; ".join(result.problems())
            + ". Run `mrsweep resume` to redo them, or pass --allow-partial to aggregate what is valid.")


def _merge(
    paths: Sequence[Path],
    expected_hash: str | None,
    info: ManifestInfo | None,
    ignored: tuple[Path, ...],
    notes: list[str],
) -> MergeResult:
    shard_cells = info.shard_cells if info else None
    loaded: list[tuple[S.ShardCheck, xr.Dataset]] = []
    bad: list[S.ShardCheck] = []
    for path in paths:
        expected_cells = shard_cells.get(path.stem) if shard_cells is not None else None
        if shard_cells is not None and expected_cells is None:
            bad.append(S.ShardCheck(path, False, "shard_id not in the manifest (stale file from an older plan?)"))
            continue
        check, ds = S.load_shard(path, expected_hash, expected_cells)
        if ds is None:
            bad.append(check)
        else:
            loaded.append((check, ds))
    if expected_hash is None and loaded:
        counts = Counter(c.manifest_hash for c, _ in loaded)
        expected_hash = counts.most_common(1)[0][0]
        if len(counts) > 1:
            foreign = [(c, ds) for c, ds in loaded if c.manifest_hash != expected_hash]
            loaded = [(c, ds) for c, ds in loaded if c.manifest_hash == expected_hash]
            bad += [S.ShardCheck(c.path, False, f"foreign manifest: manifest_hash {c.manifest_hash[:12]}... "
                                 f"differs from the majority's {expected_hash[:12]}...") for c, _ in foreign]
    bad.sort(key=lambda c: c.path.name)
    present_ids = {c.shard_id for c, _ in loaded}
    missing_shards = tuple(sorted(set(shard_cells) - present_ids - {c.path.stem for c in bad})) if shard_cells else ()
    merged, n_dup, conflicts = _concat_dedupe([ds for _, ds in loaded])
    if merged is not None:
        merged.attrs.update(_merged_attrs([ds for _, ds in loaded], info))
    have = set() if merged is None else set(int(i) for i in merged[S.COORD_CELL_ID].values)
    expected_cells = info.all_cells if info else None
    if expected_cells is None:
        expected_cells = set(range(max(have) + 1)) if have else set()
    return MergeResult(
        dataset=merged,
        files=tuple(c.path for c, _ in loaded),
        bad=tuple(bad),
        ignored=ignored,
        duplicates_dropped=n_dup,
        conflicts=tuple(conflicts),
        missing_cells=tuple(sorted(expected_cells - have)),
        missing_shards=missing_shards,
        manifest_hash=expected_hash,
        notes=tuple(notes),
    )


def _concat_dedupe(datasets: list[xr.Dataset]) -> tuple[xr.Dataset | None, int, list[int]]:
    """Concatenate along cell, keep the first copy of each cell_id, sort by cell_id."""
    if not datasets:
        return None, 0, []
    extras = sorted({str(v) for ds in datasets for v in ds.data_vars if str(v).startswith(S.EXTRA_PREFIX)})
    filled = []
    for ds in datasets:
        ds = ds.copy()
        for name in extras:
            if name not in ds:
                ds[name] = (S.DIM_CELL, np.full(ds.sizes[S.DIM_CELL], np.nan))
        ds.attrs = {}
        filled.append(ds)
    combined = xr.concat(filled, dim=S.DIM_CELL, data_vars="all", coords="different",
                         compat="equals", join="exact", combine_attrs="drop")
    ids = combined[S.COORD_CELL_ID].values
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    first = np.r_[True, sorted_ids[1:] != sorted_ids[:-1]]
    keep = order[first]
    conflicts = []
    dup_positions = np.flatnonzero(~first)
    for pos in dup_positions:
        start = pos
        while not first[start]:
            start -= 1
        if not _same_cell(combined, order[start], order[pos]):
            conflicts.append(int(sorted_ids[pos]))
    merged = combined.isel({S.DIM_CELL: keep})
    for name in (S.VAR_STATUS, S.VAR_MESSAGE, S.COORD_MODEL):
        merged[name] = merged[name].astype(str)
    return merged, int(dup_positions.size), sorted(set(conflicts))


def _same_cell(ds: xr.Dataset, i: int, j: int) -> bool:
    for name, var in ds.variables.items():
        if S.DIM_CELL not in var.dims or name in TIMING_VARS:
            continue
        a = var.isel({S.DIM_CELL: i}).values
        b = var.isel({S.DIM_CELL: j}).values
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            if not np.array_equal(a, b, equal_nan=True):
                return False
        elif not np.array_equal(a, b):
            return False
    return True


def _merged_attrs(datasets: list[xr.Dataset], info: ManifestInfo | None) -> dict[str, Any]:
    """Attributes all shards agree on, JSON attributes merged by model, model order."""
    attrs: dict[str, Any] = {}
    for name in KEPT_ATTRS:
        values = {str(ds.attrs.get(name, "")) for ds in datasets}
        if len(values) == 1:
            attrs[name] = datasets[0].attrs.get(name)
    for name in JSON_ATTRS:
        merged: dict[str, Any] = {}
        for ds in datasets:
            merged.update(S.json_attr(ds, name))
        if merged:
            attrs[name] = json.dumps(merged, sort_keys=True)
    seen = list(dict.fromkeys(str(m) for ds in sorted(datasets, key=lambda d: int(d[S.COORD_CELL_ID].min()))
                              for m in ds[S.COORD_MODEL].values))
    order = [m for m in (info.models if info else ()) if m in seen] + [m for m in seen if not info or m not in info.models]
    attrs["model_order"] = json.dumps(order)
    attrs["n_shards"] = len(datasets)
    if info and info.sweep_name and S.ATTR_SWEEP_NAME not in attrs:
        attrs[S.ATTR_SWEEP_NAME] = info.sweep_name
    return attrs
