"""merge_sweep / merge_files: concatenation, exclusion of bad files, dedupe, missing cells."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import xarray as xr
from shard_factory import FOREIGN_HASH, linear_pattern, make_cells, make_example_shard, write_sweep

from aggregate.merge import MergeError, merge_files, merge_sweep, read_manifest
from modelrepair.errors import UserError


def _shard(sweep_dir, k):
    return sweep_dir / "shards" / f"shard-{k:05d}.nc"


def test_merge_equals_concatenation(sweep):
    sweep_dir, cells = sweep
    result = merge_sweep(sweep_dir)
    assert result.ok and result.problems() == []
    assert result.n_cells == 180 and len(result.files) == 18
    parts = []
    for k in range(18):
        with xr.open_dataset(_shard(sweep_dir, k)) as ds:
            parts.append(ds.load())
    expected = xr.concat(parts, dim="cell")
    merged = result.dataset
    np.testing.assert_array_equal(merged["cell_id"].values, np.arange(180))
    for name in ["exact_repair", "layer_exact_repair", "max_abs_error", "mse", "units_repaired",
                 "units_total", "n_corrupted", "solve_seconds", "epsilon", "trial", "eps_index"]:
        np.testing.assert_array_equal(merged[name].values, expected[name].values, err_msg=name)
    assert list(merged["model"].values) == [c["model"] for c in cells]
    assert list(merged["status"].values) == ["ok"] * 180
    # known pattern: lin-a at eps index 1 repairs trials 0..7
    sel = (merged["model"] == "lin-a") & (merged["eps_index"] == 1)
    assert merged["exact_repair"].values[sel.values].tolist() == [True] * 8 + [False] * 2
    assert json.loads(merged.attrs["model_order"]) == ["lin-a", "lin-b", "net"]
    assert json.loads(merged.attrs["layer_names"])["net"] == ["W", "beta"]
    assert merged.attrs["sweep_name"] == "test-sweep"


def test_bad_files_reported_by_name_and_excluded(sweep):
    sweep_dir, _ = sweep
    data = _shard(sweep_dir, 1).read_bytes()
    _shard(sweep_dir, 1).write_bytes(data[: len(data) // 3])  # truncated
    _shard(sweep_dir, 2).write_bytes(np.random.default_rng(1).bytes(2000))  # garbage
    _shard(sweep_dir, 3).write_bytes(b"")  # zero bytes
    chunk = make_cells(["lin-a", "lin-b", "net"], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5], 10, linear_pattern,
                       two_layer=["net"])[40:50]
    make_example_shard(_shard(sweep_dir, 4), chunk, manifest_hash=FOREIGN_HASH)  # foreign
    shutil.copy(_shard(sweep_dir, 5), sweep_dir / "shards" / "shard-00005.nc.tmp-999")  # leftover

    with pytest.raises(MergeError) as info:
        merge_sweep(sweep_dir)
    message = str(info.value)
    assert isinstance(info.value, UserError) and info.value.exit_code != 0
    for k in (1, 2, 3, 4):
        assert f"shard-0000{k}.nc" in message
    assert "tmp-999" not in message and "--allow-partial" in message

    result = merge_sweep(sweep_dir, allow_partial=True)
    assert not result.ok
    assert [c.path.name for c in result.bad] == [f"shard-0000{k}.nc" for k in (1, 2, 3, 4)]
    reasons = {c.path.name: c.reason for c in result.bad}
    assert reasons["shard-00003.nc"] == "empty file (0 bytes)"
    assert reasons["shard-00004.nc"].startswith("foreign manifest")
    assert "not a readable netCDF" in reasons["shard-00001.nc"]
    assert [p.name for p in result.ignored] == ["shard-00005.nc.tmp-999"]
    assert result.n_cells == 140
    assert result.missing_cells == tuple(range(10, 50))
    assert not set(result.dataset["cell_id"].values) & set(range(10, 50))


def test_identical_duplicates_dropped_conflicts_reported(sweep):
    sweep_dir, _ = sweep
    with xr.open_dataset(_shard(sweep_dir, 0)) as ds:
        copy = ds.load()
    # a re-run of cells 0..9 in another file: identical except for timing -> dropped silently
    copy.assign(solve_seconds=copy["solve_seconds"] * 3).assign_attrs(shard_id="shard-00100").to_netcdf(
        _shard(sweep_dir, 100))
    ignore_extra = {"hash": None}
    manifest = json.loads((sweep_dir / "manifest.json").read_text())
    ignore_extra["hash"] = manifest["hash"]
    manifest["shards"].append({"shard_id": "shard-00100", "cell_ids": list(range(10))})
    (sweep_dir / "manifest.json").write_text(json.dumps(manifest))
    result = merge_sweep(sweep_dir)
    assert result.ok and result.duplicates_dropped == 10 and result.n_cells == 180
    # the copy in the first file by name wins
    np.testing.assert_allclose(result.dataset["solve_seconds"].values[:10], 0.01)

    flipped = copy.copy(deep=True)
    flipped["exact_repair"].values[3] = ~flipped["exact_repair"].values[3]
    flipped["max_abs_error"].values[4, 0] = 7.0
    flipped.assign_attrs(shard_id="shard-00100").to_netcdf(_shard(sweep_dir, 100))
    with pytest.raises(MergeError, match=r"2 cell\(s\) stored twice with different results, cell_id 3, 4"):
        merge_sweep(sweep_dir)
    partial = merge_sweep(sweep_dir, allow_partial=True)
    assert partial.conflicts == (3, 4) and partial.duplicates_dropped == 10
    assert bool(partial.dataset["exact_repair"].values[3]) is True  # shard-00000's copy kept


def test_missing_shard_and_unknown_shard(sweep):
    sweep_dir, _ = sweep
    _shard(sweep_dir, 7).unlink()
    shutil.copy(_shard(sweep_dir, 8), _shard(sweep_dir, 50))
    with pytest.raises(MergeError) as info:
        merge_sweep(sweep_dir)
    assert "shard-00007" in str(info.value) and "shard-00050.nc: shard_id not in the manifest" in str(info.value)
    result = merge_sweep(sweep_dir, allow_partial=True)
    assert result.missing_shards == ("shard-00007",)
    assert result.missing_cells == tuple(range(70, 80))
    assert result.n_cells == 170


def test_no_manifest_majority_hash_and_gaps(tmp_path):
    cells = make_cells(["lin-a"], [0.0, 0.5], 10, linear_pattern)
    paths = write_sweep(tmp_path, cells, 5, manifest=False)  # 4 shards of 5 cells
    make_example_shard(paths[3], cells[15:20], manifest_hash=FOREIGN_HASH)
    paths[1].unlink()
    result = merge_sweep(tmp_path, allow_partial=True)
    assert [c.path.name for c in result.bad] == ["shard-00003.nc"]
    assert "majority" in result.bad[0].reason
    assert result.missing_cells == tuple(range(5, 10))  # the tail (15..19) cannot be known
    assert any("no manifest.json" in n for n in result.notes)
    # an explicit hash makes the other three foreign
    forced = merge_sweep(tmp_path, allow_partial=True, manifest_hash=FOREIGN_HASH)
    assert forced.n_cells == 5 and len(forced.bad) == 2


def test_merge_files_plain_and_extras(tmp_path):
    cells = make_cells(["lin-a", "lin-b"], [0.0, 0.3], 2, linear_pattern)
    a = make_example_shard(tmp_path / "shard-00000.nc", cells[:4], extras=True)
    b = make_example_shard(tmp_path / "shard-00001.nc", cells[4:])
    result = merge_files([b, a])
    assert result.ok and result.n_cells == 8
    np.testing.assert_array_equal(result.dataset["cell_id"].values, np.arange(8))
    np.testing.assert_array_equal(result.dataset["extra_filter_error"].values[:4], [0, 1, 2, 3])
    assert np.isnan(result.dataset["extra_filter_error"].values[4:]).all()
    empty = tmp_path / "shard-00002.nc"
    empty.write_bytes(b"")
    with pytest.raises(MergeError, match="shard-00002.nc: empty file"):
        merge_files([a, b, empty])


def test_read_manifest_layouts(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"hash": "abc", "models": ["x", "y"],
                                "shards": {"shard-00000": [0, 1], "shard-00001": {"start": 2, "stop": 4}}}))
    info = read_manifest(path)
    assert info.hash == "abc" and info.models == ("x", "y")
    assert info.shard_cells == {"shard-00000": (0, 1), "shard-00001": (2, 3)}
    path.write_text(json.dumps({"hash": "h", "cells": [{"cell_id": 0, "shard_id": "s0"},
                                                       {"cell_id": 1, "shard_id": "s0"}]}))
    assert read_manifest(path).shard_cells == {"s0": (0, 1)}
    path.write_text("{not json")
    with pytest.raises(MergeError, match="m.json: cannot read the sweep manifest"):
        read_manifest(path)
