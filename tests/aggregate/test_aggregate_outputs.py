"""aggregate_sweep / write_outputs / plot_sweep: files written atomically, readable, figures non-empty."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import xarray as xr
from shard_factory import make_cells, write_sweep

from aggregate.curves import compute_curves
from aggregate.merge import MergeError
from aggregate.outputs import aggregate_sweep, load_curves, plot_sweep, write_outputs
from aggregate.plots import ERROR_FLOOR, error_caption, error_flags, plot_all
from modelrepair.errors import DataFileError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_write_outputs_two_layer_sweep(sweep):
    sweep_dir, _ = sweep
    result = aggregate_sweep(sweep_dir, formats=("png", "pdf"))
    paths = result.paths
    out = sweep_dir / "aggregate"
    assert set(paths) == {"curves", "summary_csv", "summary_txt", "merge_report", "repair_probability_png",
                          "repair_probability_pdf", "errors_png", "errors_pdf"}
    assert all(p.parent == out and p.stat().st_size > 0 for p in paths.values())
    assert paths["repair_probability_png"].read_bytes()[:8] == PNG_MAGIC
    assert paths["errors_pdf"].read_bytes()[:5] == b"%PDF-"
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())  # no temp left
    # curves.nc round-trips to what compute_curves gives
    loaded = load_curves(paths["curves"])
    expected = compute_curves(result.merge.dataset)
    for name in ("repair_probability", "repair_probability_lower", "layer_repair_probability",
                 "max_abs_error_median", "eps_at_half", "n_trials"):
        np.testing.assert_array_equal(loaded[name].values, expected[name].values, err_msg=name)
    assert loaded["layer_name"].sel(model="net").values.tolist() == ["W", "beta"]
    assert loaded["layer_present"].dtype == bool
    assert loaded["repair_probability"].attrs["long_name"] == "probability of exact repair of every layer"
    # summary.csv: one row per model x eps, in model order
    with open(paths["summary_csv"]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 18
    assert [r["model"] for r in rows[::6]] == ["lin-a", "lin-b", "net"]
    assert rows[1]["epsilon"] == "0.1" and rows[1]["n_repaired"] == "8" and float(rows[1]["repair_probability"]) == 0.8
    assert float(rows[13]["layer_repair_probability_layer2"]) == pytest.approx(0.4)
    assert rows[1]["layer_repair_probability_layer2"] == ""  # one-layer model
    text = paths["summary_txt"].read_text()
    assert text == result.summary + "\n"
    assert "lin-a" in text and "0.2500" in text and "0.0500" in text
    assert "merged 180 cells from 18 shard file(s)" in paths["merge_report"].read_text()


def test_partial_outputs_and_plot_redraw(sweep, tmp_path):
    sweep_dir, _ = sweep
    (sweep_dir / "shards" / "shard-00002.nc").write_bytes(b"garbage")
    with pytest.raises(MergeError, match="shard-00002.nc"):
        write_outputs(sweep_dir, figures=False)
    assert not (sweep_dir / "aggregate").exists()  # nothing written on failure
    paths = write_outputs(sweep_dir, allow_partial=True, figures=False)
    assert set(paths) == {"curves", "summary_csv", "summary_txt", "merge_report"}
    summary = paths["summary_txt"].read_text()
    assert summary.startswith("PARTIAL RESULT:") and "shard-00002.nc" in summary
    curves = load_curves(paths["curves"])
    assert "shard-00002.nc" in curves.attrs["partial"]
    assert curves["n_trials"].sel(model="lin-a").values.tolist() == [10, 10, 0, 10, 10, 10]
    assert np.isnan(float(curves["repair_probability"].sel(model="lin-a", epsilon=0.2)))
    redrawn = plot_sweep(sweep_dir, out_dir=tmp_path / "figs", formats=("png",))
    assert sorted(redrawn) == ["errors_png", "repair_probability_png"]
    assert all(p.read_bytes()[:8] == PNG_MAGIC for p in redrawn.values())
    with pytest.raises(DataFileError, match="run `mrsweep aggregate` first"):
        plot_sweep(tmp_path / "nowhere")


def test_one_layer_sweep_with_zero_errors(tmp_path):
    # "p=1000" always repairs with error exactly 0: the log axis draws it at the floor
    cells = make_cells(["p=100", "p=1000"], [0.0, 0.25, 0.5], 5, lambda m, ei, t: (m == "p=1000" or ei == 0, False))
    write_sweep(tmp_path, cells, 6)
    merged = aggregate_sweep(tmp_path, figures=False).merge.dataset
    assert not error_flags(compute_curves(merged))[0]  # smallest error is 1e-12: nothing clipped
    zero = (merged["model"] == "p=1000").values
    merged["max_abs_error"].values[zero, 0] = 0.0
    curves = compute_curves(merged)
    assert curves["layer_present"].values.tolist() == [[True, False], [True, False]]
    assert (curves["max_abs_error_median"].sel(model="p=1000", layer="layer1") == 0).all()
    clipped, dropped = error_flags(curves)
    assert clipped and not dropped
    assert f"errors below {ERROR_FLOOR:g} (exact repairs give 0) drawn at {ERROR_FLOOR:g}" in error_caption(clipped, dropped)
    assert "inf" in error_caption(False, True)
    paths = plot_all(curves, tmp_path / "figs", formats=("png",))
    assert len(paths["repair_probability"]) == 1 and len(paths["errors"]) == 1
    for p in (*paths["repair_probability"], *paths["errors"]):
        assert p.read_bytes()[:8] == PNG_MAGIC and p.stat().st_size > 10_000


def test_no_valid_shard_is_an_error(tmp_path):
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "shard-00000.nc").write_bytes(b"")
    with pytest.raises(MergeError, match="no valid shard file"):
        aggregate_sweep(tmp_path, allow_partial=True)
    with pytest.raises(MergeError, match="no shards folder"):
        aggregate_sweep(tmp_path / "missing")


def test_curves_file_is_plain_cf_netcdf(sweep):
    sweep_dir, _ = sweep
    paths = write_outputs(sweep_dir, figures=False)
    with xr.open_dataset(paths["curves"]) as ds:
        assert ds.attrs["Conventions"] == "CF-1.8"
        assert ds["epsilon"].attrs["units"] == "1"
        assert dict(ds.sizes) == {"model": 3, "epsilon": 6, "layer": 2}
        assert all("long_name" in ds[v].attrs for v in ds.data_vars)


def test_package_api_is_exported():
    import aggregate

    assert aggregate.aggregate_sweep is aggregate_sweep and aggregate.write_outputs is write_outputs
    assert aggregate.plot_sweep is plot_sweep and aggregate.MergeError is MergeError
    assert set(aggregate.__all__) >= {"merge_sweep", "merge_files", "compute_curves", "validate_shard",
                                      "wilson_interval", "load_curves"}


def test_legends_sit_outside_every_panel(tmp_path):
    """5 two-layer models (as colon-reduced): the legend is right of the last panel, covering no curve."""
    import matplotlib.pyplot as plt

    from aggregate.merge import merge_sweep
    from aggregate.plots import errors_figure, repair_probability_figure

    models = [f"colon-{k}" for k in range(5)]
    cells = make_cells(models, [0.0, 0.1, 0.2], 4, lambda m, ei, t: (t >= ei * int(m[-1]) // 2, t > ei), two_layer=models)
    write_sweep(tmp_path, cells, 12)
    curves = compute_curves(merge_sweep(tmp_path).dataset)
    for make in (repair_probability_figure, errors_figure):
        fig = make(curves)
        try:
            fig.canvas.draw()
            legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
            assert len(legends) == 1 and not fig.legends
            assert [t.get_text() for t in legends[0].get_texts()] == models
            box = legends[0].get_window_extent()
            assert all(box.x0 > ax.get_window_extent().x1 for ax in fig.axes), make.__name__
        finally:
            plt.close(fig)
    paths = plot_all(curves, tmp_path / "figs", formats=("png",))
    assert paths["repair_probability"][0].read_bytes()[:8] == PNG_MAGIC
