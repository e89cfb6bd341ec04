"""Names of the shard netCDF schema (team SCHEMA.md, version 1) and a never-raising validator.

A shard file is ``<sweep_dir>/shards/<shard_id>.nc`` with dimensions ``cell`` and
``layer`` (size 2, values "layer1", "layer2"). `validate_shard` answers "may aggregate use
this file?" with a `ShardCheck`; it never raises, whatever bytes the file holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

SCHEMA_VERSION = 1

# dimensions and coordinates
DIM_CELL = "cell"
DIM_LAYER = "layer"
LAYER_VALUES = ("layer1", "layer2")
COORD_CELL_ID = "cell_id"
COORD_MODEL = "model"
COORD_EPSILON = "epsilon"
COORD_EPS_INDEX = "eps_index"
COORD_TRIAL = "trial"
CELL_COORDS = (COORD_CELL_ID, COORD_MODEL, COORD_EPSILON, COORD_EPS_INDEX, COORD_TRIAL)

# data variables
VAR_EXACT_REPAIR = "exact_repair"
VAR_LAYER_EXACT_REPAIR = "layer_exact_repair"
VAR_MAX_ABS_ERROR = "max_abs_error"
VAR_MSE = "mse"
VAR_UNITS_REPAIRED = "units_repaired"
VAR_UNITS_TOTAL = "units_total"
VAR_N_CORRUPTED = "n_corrupted"
VAR_STATUS = "status"
VAR_SOLVE_SECONDS = "solve_seconds"
VAR_CERTIFIED_FRACTION = "certified_fraction"
VAR_MESSAGE = "message"
EXTRA_PREFIX = "extra_"

CELL_VARS = (VAR_EXACT_REPAIR, VAR_STATUS, VAR_SOLVE_SECONDS, VAR_CERTIFIED_FRACTION, VAR_MESSAGE)
LAYER_VARS = (
    VAR_LAYER_EXACT_REPAIR,
    VAR_MAX_ABS_ERROR,
    VAR_MSE,
    VAR_UNITS_REPAIRED,
    VAR_UNITS_TOTAL,
    VAR_N_CORRUPTED,
)
#: required variable -> its dimensions
REQUIRED_VARS: dict[str, tuple[str, ...]] = {
    **{name: (DIM_CELL,) for name in CELL_VARS},
    **{name: (DIM_CELL, DIM_LAYER) for name in LAYER_VARS},
}
STATUS_OK = "ok"
STATUS_SOLVER_FAILED = "solver_failed"
STATUS_ERROR = "error"
STATUS_VALUES = (STATUS_OK, STATUS_SOLVER_FAILED, STATUS_ERROR)
#: fill values for an absent layer
ABSENT_INT = -1

# global attributes
ATTR_SWEEP_NAME = "sweep_name"
ATTR_MANIFEST_HASH = "manifest_hash"
ATTR_SHARD_ID = "shard_id"
ATTR_MODEL_SPECS = "model_specs"
ATTR_LAYER_NAMES = "layer_names"
ATTR_SOLVER = "solver"
ATTR_SOLVER_VERSION = "solver_version"
ATTR_PACKAGE_VERSION = "package_version"
ATTR_HOST = "host"
ATTR_SLURM_JOB_ID = "slurm_job_id"
ATTR_CREATED = "created"
ATTR_N_CELLS = "n_cells"
ATTR_SCHEMA_VERSION = "schema_version"
ATTR_DIAGNOSIS = "diagnosis"
REQUIRED_ATTRS = (ATTR_SWEEP_NAME, ATTR_MANIFEST_HASH, ATTR_SHARD_ID, ATTR_SCHEMA_VERSION)

SHARDS_DIRNAME = "shards"
SHARD_ID_RE = re.compile(r"^shard-\d{5,}$")
TMP_MARKER = ".nc.tmp-"


def is_temporary(path: str | Path) -> bool:
    """True for a writer's leftover ``<shard_id>.nc.tmp-<pid>`` file (never read)."""
    return TMP_MARKER in Path(path).name


@dataclass(frozen=True)
class ShardCheck:
    """Verdict on one shard file: ``ok`` or the one-line ``reason`` it cannot be used."""

    path: Path
    ok: bool
    reason: str = ""
    shard_id: str = ""
    manifest_hash: str = ""
    n_cells: int = 0


def json_attr(ds: xr.Dataset, name: str) -> dict[str, Any]:
    """Decode a JSON-object global attribute; {} when absent or not a JSON object."""
    raw = ds.attrs.get(name, "")
    if not isinstance(raw, str) or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def validate_shard(
    path: str | Path,
    expected_manifest_hash: str | None = None,
    expected_cell_ids: Iterable[int] | None = None,
) -> ShardCheck:
    """Check a shard file against the schema; never raises (a bad file gives ``ok=False``)."""
    check, _ = load_shard(path, expected_manifest_hash, expected_cell_ids)
    return check


def netcdf_error_line(err: BaseException, path: Path) -> str:
    """First line of a netCDF4/HDF5 read error, with the (long) path shortened to the file name."""
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    return first.replace(f": '{path}'", "").replace(str(path), Path(path).name)


def load_shard(
    path: str | Path,
    expected_manifest_hash: str | None = None,
    expected_cell_ids: Iterable[int] | None = None,
) -> tuple[ShardCheck, xr.Dataset | None]:
    """Open, load and close one shard file; return its check and (if ok) the in-memory dataset."""
    path = Path(path)
    try:
        if is_temporary(path):
            return ShardCheck(path, False, "temporary file left by an interrupted writer (ignored)"), None
        if not path.is_file():
            return ShardCheck(path, False, "file does not exist"), None
        if path.stat().st_size == 0:
            return ShardCheck(path, False, "empty file (0 bytes)"), None
        try:
            with xr.open_dataset(path, engine="netcdf4") as handle:
                ds = handle.load()
        except Exception as err:  # any garbage / truncation error of netCDF4 or HDF5
            return ShardCheck(path, False, f"not a readable netCDF file ({netcdf_error_line(err, path)})"), None
        reason = _schema_problem(ds, path)
        shard_id = str(ds.attrs.get(ATTR_SHARD_ID, ""))
        mhash = str(ds.attrs.get(ATTR_MANIFEST_HASH, ""))
        n_cells = int(ds.sizes.get(DIM_CELL, 0))
        if not reason and expected_manifest_hash is not None and mhash != expected_manifest_hash:
            reason = (
                f"foreign manifest: manifest_hash {mhash[:12]}... is not this sweep's "
                f"{expected_manifest_hash[:12]}... (stale or copied from another sweep)"
            )
        if not reason and expected_cell_ids is not None:
            reason = _cell_set_problem(ds, expected_cell_ids)
        if reason:
            return ShardCheck(path, False, reason, shard_id, mhash, n_cells), None
        ds[VAR_EXACT_REPAIR] = ds[VAR_EXACT_REPAIR].astype(bool)
        return ShardCheck(path, True, "", shard_id, mhash, n_cells), ds
    except Exception as err:  # last resort: the contract is "never raises"
        return ShardCheck(path, False, f"unexpected error while checking: {err!r}"), None


def _schema_problem(ds: xr.Dataset, path: Path) -> str:
    """First schema violation as a short phrase, or "" when the dataset conforms."""
    for dim in (DIM_CELL, DIM_LAYER):
        if dim not in ds.dims:
            return f"missing dimension '{dim}'"
    if ds.sizes[DIM_LAYER] != len(LAYER_VALUES):
        return f"dimension 'layer' has size {ds.sizes[DIM_LAYER]}, expected {len(LAYER_VALUES)}"
    if DIM_LAYER not in ds.coords or [str(v) for v in ds[DIM_LAYER].values] != list(LAYER_VALUES):
        return f"coordinate 'layer' must be {list(LAYER_VALUES)}"
    for name in CELL_COORDS:
        if name not in ds.variables:
            return f"missing coordinate '{name}'"
        if ds[name].dims != (DIM_CELL,):
            return f"coordinate '{name}' has dims {ds[name].dims}, expected ('cell',)"
    for name, dims in REQUIRED_VARS.items():
        if name not in ds.variables:
            return f"missing variable '{name}'"
        if ds[name].dims != dims:
            return f"variable '{name}' has dims {ds[name].dims}, expected {dims}"
    for name in ds.data_vars:
        if str(name).startswith(EXTRA_PREFIX) and ds[name].dims != (DIM_CELL,):
            return f"variable '{name}' has dims {ds[name].dims}, expected ('cell',)"
    missing_attrs = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing_attrs:
        return f"missing global attribute(s) {missing_attrs}"
    try:
        version = int(ds.attrs[ATTR_SCHEMA_VERSION])
    except (TypeError, ValueError):
        version = -1
    if version != SCHEMA_VERSION:
        return f"schema_version {ds.attrs[ATTR_SCHEMA_VERSION]}, expected {SCHEMA_VERSION}"
    shard_id = str(ds.attrs[ATTR_SHARD_ID])
    if shard_id != path.stem:
        return f"shard_id attribute '{shard_id}' does not match the file name '{path.name}'"
    if ATTR_N_CELLS in ds.attrs and int(ds.attrs[ATTR_N_CELLS]) != ds.sizes[DIM_CELL]:
        return f"n_cells attribute {ds.attrs[ATTR_N_CELLS]} but {ds.sizes[DIM_CELL]} cells (truncated write?)"
    if not np.issubdtype(ds[COORD_CELL_ID].dtype, np.integer):
        return f"coordinate 'cell_id' has dtype {ds[COORD_CELL_ID].dtype}, expected int64"
    ids = ds[COORD_CELL_ID].values
    if np.unique(ids).size != ids.size:
        return "duplicate cell_id values inside one file"
    exact = ds[VAR_EXACT_REPAIR].values
    if exact.dtype != bool and not np.isin(exact, (0, 1)).all():
        return "variable 'exact_repair' holds values other than 0/1"
    bad_status = set(map(str, np.unique(ds[VAR_STATUS].values.astype(str)))) - set(STATUS_VALUES)
    if bad_status:
        return f"variable 'status' holds unknown values {sorted(bad_status)}"
    return ""


def _cell_set_problem(ds: xr.Dataset, expected_cell_ids: Iterable[int]) -> str:
    have = set(int(i) for i in ds[COORD_CELL_ID].values)
    want = set(int(i) for i in expected_cell_ids)
    if have == want:
        return ""
    missing, extra = sorted(want - have), sorted(have - want)
    return (
        f"cell_id set differs from the manifest's cells for this shard "
        f"({len(missing)} missing e.g. {missing[:3]}, {len(extra)} unexpected e.g. {extra[:3]})"
    )
