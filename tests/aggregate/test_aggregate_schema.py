"""validate_shard: good files pass; garbage, truncated, foreign and temp files fail without raising."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import xarray as xr
from shard_factory import (
    FOREIGN_HASH,
    MANIFEST_HASH,
    linear_pattern,
    make_cells,
    make_example_shard,
)

from aggregate import schema as S
from aggregate.schema import validate_shard


def _one_shard(tmp_path: Path) -> Path:
    cells = make_cells(["net"], [0.0, 0.2], 3, linear_pattern, two_layer=["net"])
    return make_example_shard(tmp_path / "shards" / "shard-00000.nc", cells)


def test_good_shard_passes_with_hash_and_cells(tmp_path):
    path = _one_shard(tmp_path)
    check = validate_shard(path, MANIFEST_HASH, range(6))
    assert check.ok and check.reason == ""
    assert check.shard_id == "shard-00000"
    assert check.n_cells == 6
    assert check.manifest_hash == MANIFEST_HASH


def test_foreign_manifest_and_wrong_cells_fail(tmp_path):
    path = _one_shard(tmp_path)
    foreign = validate_shard(path, FOREIGN_HASH)
    assert not foreign.ok and foreign.reason.startswith("foreign manifest")
    cells = validate_shard(path, MANIFEST_HASH, range(5))
    assert not cells.ok and "1 unexpected e.g. [5]" in cells.reason


def test_garbage_files_never_raise(tmp_path):
    good = _one_shard(tmp_path)
    data = good.read_bytes()
    cases = {
        "zero.nc": b"",
        "random.nc": np.random.default_rng(0).bytes(5000),
        "fakehdf.nc": b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8,
        "truncated.nc": data[: len(data) // 2],
        "head.nc": data[:100],
    }
    for name, content in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        check = validate_shard(p)
        assert not check.ok, name
        assert check.reason, name
    assert validate_shard(tmp_path / "zero.nc").reason == "empty file (0 bytes)"
    assert "not a readable netCDF file" in validate_shard(tmp_path / "truncated.nc").reason
    assert validate_shard(tmp_path / "does-not-exist.nc").reason == "file does not exist"


def test_temporary_leftover_is_ignored(tmp_path):
    good = _one_shard(tmp_path)
    tmp = good.with_name("shard-00000.nc.tmp-1234")
    shutil.copy(good, tmp)
    assert S.is_temporary(tmp) and not S.is_temporary(good)
    check = validate_shard(tmp, MANIFEST_HASH)
    assert not check.ok and "temporary" in check.reason


def test_wrong_schema_is_named(tmp_path):
    good = _one_shard(tmp_path)
    with xr.open_dataset(good) as ds:
        full = ds.load()
    variants = {
        "missing variable 'mse'": full.drop_vars("mse"),
        "missing coordinate 'trial'": full.drop_vars("trial"),
        "schema_version 2, expected 1": full.assign_attrs(schema_version=2),
        "duplicate cell_id": full.assign_coords(cell_id=("cell", np.zeros(6, np.int64))),
        "n_cells attribute 7": full.assign_attrs(n_cells=7),
        "unknown values ['weird']": full.assign(status=("cell", np.array(["weird"] * 6, dtype=object))),
        "missing global attribute(s) ['manifest_hash']": full.drop_attrs().assign_attrs(
            {k: v for k, v in full.attrs.items() if k != "manifest_hash"}),
    }
    for i, (expected, ds) in enumerate(variants.items()):
        path = tmp_path / "bad" / f"shard-{i:05d}.nc"
        path.parent.mkdir(exist_ok=True)
        ds.assign_attrs(shard_id=path.stem).to_netcdf(path)
        check = validate_shard(path)
        assert not check.ok
        assert expected in check.reason, (expected, check.reason)
    # shard_id attribute must match the file name
    renamed = tmp_path / "bad" / "shard-00099.nc"
    shutil.copy(good, renamed)
    assert "does not match the file name" in validate_shard(renamed).reason


def test_int8_exact_repair_is_accepted_as_bool(tmp_path):
    good = _one_shard(tmp_path)
    with xr.open_dataset(good) as ds:
        full = ds.load()
    full["exact_repair"] = full["exact_repair"].astype(np.int8)
    path = tmp_path / "int" / "shard-00000.nc"
    path.parent.mkdir()
    full.to_netcdf(path)
    check, loaded = S.load_shard(path)
    assert check.ok
    assert loaded["exact_repair"].dtype == bool
    np.testing.assert_array_equal(loaded["exact_repair"].values, full["exact_repair"].values.astype(bool))
