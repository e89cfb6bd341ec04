"""Contract: files from the real shard writer (jobs.shard_io) pass validation and aggregate as expected."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aggregate.curves import compute_curves
from aggregate.merge import merge_sweep
from aggregate.schema import validate_shard
from jobs.plan import Cell
from jobs.shard_io import build_dataset, shard_path, write_dataset
from modelrepair.outcome import CellOutcome, LayerOutcome

HASH = "f" * 64


def _outcome(exact_w: bool, exact_b: bool, status: str = "ok") -> CellOutcome:
    w = LayerOutcome("W", exact_w, 1e-13 if exact_w else 0.3, 1e-26 if exact_w else 0.01, 8 if exact_w else 5, 8, 40)
    b = LayerOutcome("beta", exact_b, 0.0 if exact_b else 0.2, 0.0 if exact_b else 0.04, 1, 1, 2)
    return CellOutcome((w, b), status, solve_seconds=0.5, extras={"filter_error": 0.1})


def test_real_writer_files_aggregate(tmp_path):
    eps = [0.0, 0.2]
    cells = [Cell(cid, "net", cid // 4, eps[cid // 4], cid % 4) for cid in range(8)]
    outcomes = [_outcome(True, True), _outcome(True, False), _outcome(True, True), _outcome(True, True),
                _outcome(True, True), _outcome(False, False), _outcome(False, False, "solver_failed"),
                CellOutcome((), "error", message="boom")]
    shards = {"shard-00000": (0, 4), "shard-00001": (4, 8)}
    for sid, (a, b) in shards.items():
        ds = build_dataset(cells[a:b], outcomes[a:b], sweep_name="contract", manifest_hash=HASH, shard_id=sid,
                           model_specs={"net": {"kind": "twolayer"}}, solver="highs")
        write_dataset(ds, shard_path(tmp_path, sid))
        assert validate_shard(shard_path(tmp_path, sid), HASH, range(a, b)).ok
    manifest = {"hash": HASH, "sweep_name": "contract", "models": [{"name": "net"}],
                "shards": [{"shard_id": sid, "model": "net", "cell_start": a, "cell_stop": b,
                            "cell_ids": {"start": a, "stop": b}} for sid, (a, b) in shards.items()]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    merged = merge_sweep(tmp_path)
    assert merged.ok and merged.n_cells == 8
    assert merged.dataset["message"].values[7] == "boom"
    curves = compute_curves(merged.dataset)
    net = curves.sel(model="net")
    assert net["n_repaired"].values.tolist() == [3, 1]
    assert net["n_solver_failed"].values.tolist() == [0, 1] and net["n_error"].values.tolist() == [0, 1]
    assert net["n_trials"].values.tolist() == [4, 3]  # the error cell is no trial
    np.testing.assert_allclose(net["layer_repair_probability"].sel(layer="layer1"), [1.0, 1 / 3])
    np.testing.assert_allclose(net["layer_repair_probability"].sel(layer="layer2"), [0.75, 1 / 3])
    assert net["layer_n_trials"].sel(layer="layer2").values.tolist() == [4, 3]  # the error cell has no layers
    assert net["layer_name"].values.tolist() == ["W", "beta"]
    assert float(net["max_abs_error_median"].sel(layer="layer1", epsilon=0.2)) == pytest.approx(0.3)
    np.testing.assert_allclose(net["extra_filter_error_mean"], [0.1, 0.1])


def test_layer_skipped_by_early_stop_is_left_out_of_its_layer_curve(tmp_path):
    """A beta not attempted (W failed, early stop) is stored as -2, read back as not attempted,
    and the layer-2 probability is over the cells that attempted it."""
    from jobs.shard_io import NOT_ATTEMPTED, outcomes_from_dataset

    w_bad = LayerOutcome("W", False, 0.3, 0.01, 5, 8, 40)
    skipped = LayerOutcome("beta", False, float("nan"), float("nan"), 0, 1, 2, attempted=False)
    outcomes = [_outcome(True, True), _outcome(True, False), CellOutcome((w_bad, skipped), "ok"),
                CellOutcome((w_bad, skipped), "ok")]
    cells = [Cell(cid, "net", 0, 0.0, cid) for cid in range(4)]
    ds = build_dataset(cells, outcomes, sweep_name="contract", manifest_hash=HASH, shard_id="shard-00000",
                       model_specs={"net": {"kind": "twolayer"}}, solver="highs")
    assert ds["layer_exact_repair"].values[:, 1].tolist() == [1, 0, NOT_ATTEMPTED, NOT_ATTEMPTED]
    back = outcomes_from_dataset(ds)
    assert not back[2].layers[1].attempted and not back[2].exact_repair and back[2].layers[1].n_corrupted == 2
    assert back[1].layers[1].attempted
    write_dataset(ds, shard_path(tmp_path, "shard-00000"))
    manifest = {"hash": HASH, "sweep_name": "contract", "models": [{"name": "net"}],
                "shards": [{"shard_id": "shard-00000", "model": "net", "cell_start": 0, "cell_stop": 4,
                            "cell_ids": {"start": 0, "stop": 4}}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    net = compute_curves(merge_sweep(tmp_path).dataset).sel(model="net", epsilon=0.0)
    assert int(net["n_trials"]) == 4 and int(net["n_repaired"]) == 1
    assert net["layer_n_trials"].values.tolist() == [4, 2]  # beta: attempted twice
    np.testing.assert_allclose(net["layer_repair_probability"].values, [0.5, 0.5])
