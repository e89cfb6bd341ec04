"""Shard result files (netCDF4) per team/SCHEMA.md: build, write atomically, validate.

A shard file is *done* iff it opens, its ``manifest_hash`` equals the manifest's, its
``shard_id`` matches the file name and its ``cell_id`` set equals the shard's cells.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from jobs.fsutil import atomic_write
from jobs.plan import Cell
from modelrepair.outcome import CellOutcome

SCHEMA_VERSION = 1
#: layer_exact_repair code of a layer skipped by early stop (-1: the model has no such layer)
NOT_ATTEMPTED = -2
N_LAYERS = 2
LAYER_NAMES = ("layer1", "layer2")

LONG_NAMES = {
    "cell_id": ("index of the cell in the sweep's full grid", None),
    "epsilon": ("corruption fraction eps", "1"),
    "eps_index": ("index of eps in the sweep's grid", None),
    "trial": ("trial number", None),
    "model": ("model name", None),
    "layer": ("parameter block (layer) of the model", None),
    "exact_repair": ("all layers repaired within tolerance and status ok", None),
    "layer_exact_repair": ("layer repaired within tolerance (1/0; -1 = layer absent; -2 = not attempted: "
                           "early stop after an earlier layer failed)", None),
    "max_abs_error": ("max |repaired - trained| over the layer (inf: a unit failed to solve)", "1"),
    "mse": ("mean squared error of repaired vs trained parameters", "1"),
    "units_repaired": ("units (columns) repaired within tolerance (-1 = absent)", None),
    "units_total": ("units (columns) in the layer (-1 = absent)", None),
    "n_corrupted": ("number of corrupted parameters in the layer (-1 = absent)", None),
    "status": ("cell outcome: ok | solver_failed | error", None),
    "solve_seconds": ("time spent in the LAD solver", "s"),
    "certified_fraction": ("fraction of LADs certified by a dual certificate (NaN: n/a)", "1"),
    "message": ("error message ('' when fine)", None),
}


def shard_path(sweep_dir: str | Path, shard_id: str) -> Path:
    return Path(sweep_dir) / "shards" / f"{shard_id}.nc"


def partial_path(sweep_dir: str | Path, shard_id: str) -> Path:
    return Path(sweep_dir) / "partial" / f"{shard_id}.nc"


def solver_version(name: str) -> str:
    try:
        if name == "highs":
            import scipy

            return f"scipy {scipy.__version__} linprog(method='highs')"
        if name == "cvxpy":
            import cvxpy

            return f"cvxpy {cvxpy.__version__}"
    except ImportError:
        pass
    return "unknown"


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelrepair")
    except PackageNotFoundError:
        return "unknown"


def slurm_job_id() -> str:
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array and task:
        return f"{array}_{task}"
    return os.environ.get("SLURM_JOB_ID", "")


def build_dataset(
    cells: Sequence[Cell],
    outcomes: Sequence[CellOutcome],
    *,
    sweep_name: str,
    manifest_hash: str,
    shard_id: str,
    model_specs: dict[str, dict],
    solver: str,
    diagnosis: dict[str, dict] | None = None,
):
    """An xarray Dataset in the shard schema for ``cells`` and their outcomes."""
    import xarray as xr

    n = len(cells)
    layer_exact = np.full((n, N_LAYERS), -1, np.int8)
    max_abs = np.full((n, N_LAYERS), np.nan)
    mse = np.full((n, N_LAYERS), np.nan)
    units_rep = np.full((n, N_LAYERS), -1, np.int32)
    units_tot = np.full((n, N_LAYERS), -1, np.int32)
    n_corr = np.full((n, N_LAYERS), -1, np.int32)
    layer_names: dict[str, list[str]] = {}
    extras: dict[str, np.ndarray] = {}
    for i, (cell, out) in enumerate(zip(cells, outcomes, strict=True)):
        if out.layers and cell.model not in layer_names:
            layer_names[cell.model] = [layer.name for layer in out.layers]
        for j, layer in enumerate(out.layers[:N_LAYERS]):
            layer_exact[i, j] = int(layer.exact) if layer.attempted else NOT_ATTEMPTED
            max_abs[i, j] = layer.max_abs_error
            mse[i, j] = layer.mse
            units_rep[i, j] = layer.units_repaired
            units_tot[i, j] = layer.units_total
            n_corr[i, j] = layer.n_corrupted
        for key, value in out.extras.items():
            extras.setdefault(key, np.full(n, np.nan))[i] = float(value)
    dims, dims2 = ("cell",), ("cell", "layer")
    data = {
        "exact_repair": (dims, np.array([o.exact_repair for o in outcomes], bool)),
        "layer_exact_repair": (dims2, layer_exact),
        "max_abs_error": (dims2, max_abs),
        "mse": (dims2, mse),
        "units_repaired": (dims2, units_rep),
        "units_total": (dims2, units_tot),
        "n_corrupted": (dims2, n_corr),
        "status": (dims, np.array([o.status for o in outcomes], dtype=object)),
        "solve_seconds": (dims, np.array([o.solve_seconds for o in outcomes], float)),
        "certified_fraction": (dims, np.array([o.certified_fraction for o in outcomes], float)),
        "message": (dims, np.array([o.message for o in outcomes], dtype=object)),
    }
    for key, values in sorted(extras.items()):
        data[f"extra_{key}"] = (dims, values)
    coords = {
        "cell_id": (dims, np.array([c.cell_id for c in cells], np.int64)),
        "model": (dims, np.array([c.model for c in cells], dtype=object)),
        "epsilon": (dims, np.array([c.epsilon for c in cells], np.float64)),
        "eps_index": (dims, np.array([c.eps_index for c in cells], np.int32)),
        "trial": (dims, np.array([c.trial for c in cells], np.int32)),
        "layer": (("layer",), np.array(LAYER_NAMES, dtype=object)),
    }
    ds = xr.Dataset(data, coords=coords)
    for name in list(ds.variables):
        long_name, units = LONG_NAMES.get(str(name), (f"extra per-cell value {str(name)[6:]}", None))
        ds[name].attrs["long_name"] = long_name
        if units:
            ds[name].attrs["units"] = units
    ds.attrs.update(
        sweep_name=sweep_name,
        manifest_hash=manifest_hash,
        shard_id=shard_id,
        model_specs=json.dumps(model_specs, sort_keys=True),
        layer_names=json.dumps(layer_names, sort_keys=True),
        solver=solver,
        solver_version=solver_version(solver),
        package_version=package_version(),
        host=socket.gethostname(),
        slurm_job_id=slurm_job_id(),
        created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        n_cells=np.int64(n),
        schema_version=np.int64(SCHEMA_VERSION),
    )
    if diagnosis:  # {model name: repairability diagnosis}, from the manifest (external models)
        ds.attrs["diagnosis"] = json.dumps(diagnosis, sort_keys=True)
    return ds


def write_dataset(ds, path: Path) -> Path:
    """Write ``ds`` to ``path`` atomically (tmp in the same folder, fsync, rename, fsync dir)."""
    encoding = {v: {"dtype": str} for v in ("status", "message", "model", "layer") if v in ds.variables}
    return atomic_write(Path(path), lambda tmp: ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding))


@dataclass(frozen=True)
class ShardCheck:
    """Verdict on one shard file: ``state`` in done | missing | corrupt | stale | foreign."""

    state: str
    reason: str = ""
    #: cells of a done shard whose status is not "ok": {"solver_failed": n, "error": m}
    bad_cells: tuple[tuple[str, int], ...] = ()

    @property
    def done(self) -> bool:
        return self.state == "done"


def check_shard_file(path: Path, manifest_hash: str, shard_id: str, cell_ids: Sequence[int]) -> ShardCheck:
    """Apply the SCHEMA.md "done" rule to ``path`` without trusting anything in it."""
    if not path.exists():
        return ShardCheck("missing")
    if path.is_file() and path.stat().st_size == 0:
        return ShardCheck("corrupt", f"{path.name}: empty file (0 bytes)")
    try:
        import netCDF4

        with netCDF4.Dataset(path, "r") as nc:
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            ids = np.asarray(nc.variables["cell_id"][:], dtype=np.int64)
            status = [str(v) for v in np.asarray(nc.variables["status"][:]).ravel()] if "status" in nc.variables else []
    except Exception as err:  # noqa: BLE001 - any failure to read means "not done"
        from aggregate.schema import netcdf_error_line

        return ShardCheck("corrupt", f"{path.name}: unreadable netCDF file ({netcdf_error_line(err, path)})")
    if attrs.get("manifest_hash") != manifest_hash:
        return ShardCheck("stale", f"manifest hash {str(attrs.get('manifest_hash'))[:12]} != {manifest_hash[:12]}")
    if attrs.get("shard_id") != shard_id:
        return ShardCheck("foreign", f"shard_id attribute {attrs.get('shard_id')!r} != {shard_id!r}")
    if sorted(ids.tolist()) != sorted(int(c) for c in cell_ids):
        return ShardCheck("stale", "cell ids differ from the manifest's")
    bad = sorted((s, status.count(s)) for s in set(status) if s != "ok")
    return ShardCheck("done", bad_cells=tuple(bad))


def outcomes_from_dataset(ds) -> dict[int, CellOutcome]:
    """Rebuild CellOutcomes from a shard dataset (inverse of `build_dataset`)."""
    from modelrepair.outcome import LayerOutcome

    names = json.loads(ds.attrs.get("layer_names", "{}"))
    extra_vars = [v for v in ds.data_vars if str(v).startswith("extra_")]
    out: dict[int, CellOutcome] = {}
    for i, cid in enumerate(ds["cell_id"].values.tolist()):
        model = str(ds["model"].values[i])
        layers = []
        for j in range(N_LAYERS):
            code = int(ds["layer_exact_repair"].values[i, j])
            if code == -1:
                continue
            lname = names.get(model, [])
            layers.append(LayerOutcome(
                lname[j] if j < len(lname) else LAYER_NAMES[j],
                bool(ds["layer_exact_repair"].values[i, j] == 1),
                float(ds["max_abs_error"].values[i, j]), float(ds["mse"].values[i, j]),
                int(ds["units_repaired"].values[i, j]), int(ds["units_total"].values[i, j]),
                int(ds["n_corrupted"].values[i, j]), attempted=code != NOT_ATTEMPTED,
            ))
        extras = {str(v)[6:]: float(ds[v].values[i]) for v in extra_vars if np.isfinite(ds[v].values[i])}
        out[int(cid)] = CellOutcome(
            tuple(layers), str(ds["status"].values[i]), float(ds["solve_seconds"].values[i]),
            float(ds["certified_fraction"].values[i]), str(ds["message"].values[i]), extras,
        )
    return out


def read_partial(path: Path, manifest_hash: str, shard_id: str, cell_ids: set[int]) -> dict[int, CellOutcome]:
    """Outcomes checkpointed in ``path`` if it belongs to this manifest and shard, else {}."""
    try:
        import xarray as xr

        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds.load()
    except Exception:  # noqa: BLE001 - an unreadable checkpoint is simply ignored
        return {}
    if ds.attrs.get("manifest_hash") != manifest_hash or ds.attrs.get("shard_id") != shard_id:
        return {}
    return {k: v for k, v in outcomes_from_dataset(ds).items() if k in cell_ids}
