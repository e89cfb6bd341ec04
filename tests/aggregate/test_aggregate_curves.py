"""Curves: Wilson / Clopper-Pearson intervals, eps at P = 0.5, per-(model, eps, layer) values."""

from __future__ import annotations

import json

import numpy as np
import pytest
from shard_factory import make_cells, make_example_shard

from aggregate.curves import (
    clopper_pearson_interval,
    compute_curves,
    eps_at_probability,
    format_summary,
    quantiles,
    summary_rows,
    wilson_interval,
)
from aggregate.merge import merge_files, merge_sweep


def test_wilson_hand_computed_and_edges():
    lo, hi = wilson_interval(8, 10)
    assert float(lo) == pytest.approx(0.4902, abs=5e-5)
    assert float(hi) == pytest.approx(0.9433, abs=5e-5)
    # 0/n: lower exactly 0, upper z^2/(n+z^2); n/n: mirror image
    z2 = 1.959963984540054**2
    lo, hi = wilson_interval(0, 20)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(z2 / (20 + z2), rel=1e-12)
    lo, hi = wilson_interval(20, 20)
    assert float(hi) == 1.0 and float(lo) == pytest.approx(20 / (20 + z2), rel=1e-12)
    # vectorised, n = 0 gives NaN, symmetric in k <-> n - k
    lo, hi = wilson_interval(np.array([3, 7, 0]), np.array([10, 10, 0]))
    assert lo[0] == pytest.approx(1 - hi[1]) and hi[0] == pytest.approx(1 - lo[1])
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    lo90, hi90 = wilson_interval(8, 10, confidence=0.90)
    assert lo90 > 0.4902 and hi90 < 0.9433


def test_clopper_pearson_known_values():
    lo, hi = clopper_pearson_interval(8, 10)
    assert float(lo) == pytest.approx(0.44390, abs=1e-5)
    assert float(hi) == pytest.approx(0.97479, abs=1e-5)
    lo, hi = clopper_pearson_interval(0, 10)
    assert float(lo) == 0.0 and float(hi) == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-9)
    lo, hi = clopper_pearson_interval(10, 10)
    assert float(hi) == 1.0 and float(lo) == pytest.approx(0.025 ** (1 / 10), rel=1e-9)


def test_eps_at_half_interpolation():
    eps = np.array([0.0, 0.1, 0.2, 0.3, 0.4])
    assert eps_at_probability(eps, [1.0, 0.9, 0.7, 0.3, 0.0]) == pytest.approx(0.25)
    assert eps_at_probability(eps, [1.0, 0.8, 0.6, 0.45, 0.0]) == pytest.approx(0.2 + 0.1 * 0.1 / 0.15)
    assert eps_at_probability(eps, [1.0, 0.5, 0.2, 0.0, 0.0]) == pytest.approx(0.1)  # exactly at a grid point
    assert np.isnan(eps_at_probability(eps, [1.0, 0.9, 0.8, 0.7, 0.6]))  # never crosses
    assert np.isnan(eps_at_probability(eps, [0.1, 0.0, 0.0, 0.0, 0.0]))
    # first crossing wins; NaN points (no trials) are skipped
    assert eps_at_probability(eps, [1.0, 0.0, 1.0, 0.0, 0.0]) == pytest.approx(0.05)
    assert eps_at_probability(eps, [1.0, np.nan, 0.6, np.nan, 0.2]) == pytest.approx(0.2 + 0.2 * 0.1 / 0.4)


def test_curves_values_on_known_sweep(sweep, eps_grid):
    sweep_dir, _ = sweep
    curves = compute_curves(merge_sweep(sweep_dir).dataset)
    assert curves.sizes == {"model": 3, "epsilon": 6, "layer": 2}
    assert list(curves["model"].values) == ["lin-a", "lin-b", "net"]
    np.testing.assert_array_equal(curves["epsilon"].values, eps_grid)
    np.testing.assert_array_equal(curves["n_trials"].values, 10)
    p = curves["repair_probability"]
    np.testing.assert_allclose(p.sel(model="lin-a"), [1.0, 0.8, 0.6, 0.4, 0.2, 0.0])
    np.testing.assert_allclose(p.sel(model="lin-b"), [1.0, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(p.sel(model="net"), [0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
    lo, hi = wilson_interval(8, 10)
    assert float(curves["repair_probability_lower"].sel(model="lin-a", epsilon=0.1)) == pytest.approx(lo)
    assert float(curves["repair_probability_upper"].sel(model="lin-a", epsilon=0.1)) == pytest.approx(hi)
    # eps at P=0.5: lin-a between 0.2 (0.6) and 0.3 (0.4); lin-b between 0 and 0.1; net at 0 exactly
    np.testing.assert_allclose(curves["eps_at_half"].values, [0.25, 0.05, 0.0])
    # per layer (2-layer model): layer1 as lin-a, layer2 repaired on even trials of layer1 successes
    net = curves.sel(model="net")
    np.testing.assert_allclose(net["layer_repair_probability"].sel(layer="layer1"), [1, .8, .6, .4, .2, 0])
    np.testing.assert_allclose(net["layer_repair_probability"].sel(layer="layer2"), [.5, .4, .3, .2, .1, 0])
    assert curves["layer_present"].values.tolist() == [[True, False], [True, False], [True, True]]
    assert np.isnan(curves["layer_repair_probability"].sel(model="lin-a", layer="layer2")).all()
    assert curves["layer_name"].sel(model="net").values.tolist() == ["W", "beta"]
    # errors: exact cells have 1e-12 * trial, failed ones 0.1 * (eps_index + 1)
    e = curves["max_abs_error_median"].sel(model="lin-a", layer="layer1").values
    np.testing.assert_allclose(e[:3], 4.5e-12, rtol=1e-9)  # median of 0..9 e-12 among the repaired
    np.testing.assert_allclose(e[3:], [0.4, 0.5, 0.6])  # majority failed
    assert float(curves["max_abs_error_mean"].sel(model="lin-a", layer="layer1", epsilon=0.1)) == pytest.approx(
        (sum(1e-12 * t for t in range(8)) + 2 * 0.2) / 10)
    assert float(curves["mse_median"].sel(model="lin-a", layer="layer1", epsilon=0.5)) == pytest.approx(0.36)
    assert float(curves["max_abs_error_q75"].sel(model="lin-b", layer="layer1", epsilon=0.0)) == pytest.approx(
        np.quantile(np.arange(10) * 1e-12, 0.75))
    np.testing.assert_allclose(curves["solve_seconds_mean"].values, 0.01)
    assert curves["repair_probability"].attrs["long_name"] and curves["solve_seconds_mean"].attrs["units"] == "s"
    assert curves.attrs["interval"] == "wilson"


def test_status_counts_model_order_and_extras(tmp_path):
    cells = make_cells(["zeta", "alpha"], [0.0, 0.5], 4, lambda m, ei, t: (True, False))
    status = {0: "solver_failed", 1: "error", 2: "solver_failed"}
    a = make_example_shard(tmp_path / "shard-00000.nc", cells, status=status, extras=True)
    cells_ds = merge_files([a]).dataset
    curves = compute_curves(cells_ds)
    assert list(curves["model"].values) == ["zeta", "alpha"]  # first appearance, not alphabetical
    assert curves["n_solver_failed"].sel(model="zeta").values.tolist() == [2, 0]
    assert curves["n_error"].sel(model="zeta").values.tolist() == [1, 0]
    assert curves["n_repaired"].sel(model="zeta").values.tolist() == [1, 4]  # failed cells never count
    # an error cell is no trial: 4 cells at eps 0, one of them "error" -> 3 trials
    assert curves["n_trials"].sel(model="zeta").values.tolist() == [3, 4]
    assert float(curves["repair_probability"].sel(model="zeta", epsilon=0.0)) == pytest.approx(1 / 3)
    assert ("warning: model zeta: 2 solver_failed (counted as not repaired), 1 error (left out of the trials)"
            in format_summary(curves))
    assert "warning: model alpha" not in format_summary(curves)
    np.testing.assert_allclose(curves["extra_filter_error_mean"].sel(model="alpha"), [9.5, 13.5])
    cells_ds.attrs["model_order"] = json.dumps(["alpha", "zeta"])
    assert list(compute_curves(cells_ds)["model"].values) == ["alpha", "zeta"]
    cp = compute_curves(cells_ds, interval="clopper-pearson")
    lo, _ = clopper_pearson_interval(1, 3)  # 1 of 3 trials (the error cell is none)
    assert float(cp["repair_probability_lower"].sel(model="zeta", epsilon=0.0)) == pytest.approx(lo)


def test_inf_error_and_summary(tmp_path):
    cells = make_cells(["m"], [0.0, 0.3], 3, lambda m, ei, t: (ei == 0, False))
    path = make_example_shard(tmp_path / "shard-00000.nc", cells)
    ds = merge_files([path]).dataset
    ds["max_abs_error"].values[3, 0] = np.inf  # a unit failed to solve
    curves = compute_curves(ds)
    assert np.isinf(curves["max_abs_error_mean"].sel(model="m", epsilon=0.3, layer="layer1"))
    assert float(curves["max_abs_error_median"].sel(model="m", epsilon=0.3, layer="layer1")) == pytest.approx(0.2)
    rows = summary_rows(curves)
    assert [(r["model"], r["epsilon"], r["n_trials"], r["n_repaired"]) for r in rows] == [
        ("m", 0.0, 3, 3), ("m", 0.3, 3, 0)]
    assert "layer_repair_probability_layer2" not in rows[0]
    text = format_summary(curves)
    assert "m " in text and "0.1500" in text  # P: 1 -> 0 between 0 and 0.3


def test_quantiles_match_numpy_and_keep_inf():
    rng = np.random.default_rng(0)
    v = rng.random(11)
    np.testing.assert_allclose(quantiles(v, (0.25, 0.5, 0.75)), np.quantile(v, [0.25, 0.5, 0.75]))
    assert quantiles(np.array([1.0, 2.0, np.inf, np.inf]), (0.25, 0.5, 0.75)) == [1.75, np.inf, np.inf]


def test_summary_says_on_which_side_a_curve_without_crossing_lies(tmp_path):
    ok = {"always": True, "none": False}
    cells = make_cells(["always", "none"], [0.0, 0.25, 0.5], 2, lambda m, ei, t: (ok[m], ok[m]))
    curves = compute_curves(merge_files([make_example_shard(tmp_path / "shard-00000.nc", cells)]).dataset)
    rows = {line.split()[0]: line.split()[1:3] for line in format_summary(curves).splitlines()[2:4]}
    assert rows == {"always": ["above", "0.50"], "none": ["below", "0.00"]}
    assert "'above e': P(repair) >= 1/2 on the whole grid" in format_summary(curves)
