"""Repair-cost scaling study: power-law fits, timing summaries, ratios, figure/CSV, CLI."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from shard_factory import make_cells, write_sweep

from aggregate.scaling import fit_power_law, fit_series, model_size, scaling_study

SIZES = (200, 500, 1000, 2000, 5000)
NS = (25, 50)
EPS = (0.1, 0.3)
TRIALS = 5


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_fit_power_law_exact_and_two_points() -> None:
    sizes = np.array([100.0, 300.0, 1000.0, 4000.0])
    slope, se, a, r2 = fit_power_law(sizes, 2e-3 * sizes**0.75)
    assert slope == pytest.approx(0.75, abs=1e-12)
    assert a == pytest.approx(math.log(2e-3), abs=1e-10)
    assert se == pytest.approx(0.0, abs=1e-10)
    assert r2 == pytest.approx(1.0)
    slope, se, _, _ = fit_power_law([10, 40], [1.0, 4.0])
    assert slope == pytest.approx(1.0) and math.isnan(se)
    assert all(math.isnan(v) for v in fit_power_law([10], [1.0]))
    assert all(math.isnan(v) for v in fit_power_law([10, 10], [1.0, 2.0]))


def test_fit_power_law_standard_error_matches_formula() -> None:
    x = np.log([1.0, 2.0, 4.0, 8.0])
    y = np.array([0.0, 0.8, 1.3, 2.2])  # log times
    slope, se, a, _ = fit_power_law(np.exp(x), np.exp(y))
    b_ref, a_ref = np.polyfit(x, y, 1)
    resid = y - (a_ref + b_ref * x)
    se_ref = math.sqrt(resid @ resid / 2 / ((x - x.mean()) ** 2).sum())
    assert (slope, a, se) == pytest.approx((b_ref, a_ref, se_ref), rel=1e-10)


def test_model_size_per_kind() -> None:
    lin = model_size("m", {"kind": "linear", "design": {"source": "gaussian", "n": 25, "p": 500}})
    assert (lin.kind, lin.n, lin.size, lin.size_name) == ("linear", 25, 500, "p")
    net = model_size("t", {"kind": "twolayer", "hidden": 120, "design": {"n": 20, "p": 60}})
    assert (net.n, net.size, net.size_name) == (20, 7200, "d*hidden")
    colon = model_size("c", {"kind": "linear", "design": {"source": "colon", "n": None, "p": 100}})
    assert colon.n is None and colon.size == 100
    assert model_size("x", {"kind": "cnn", "filters": 20}) is None


def _power_sweep(root: Path, name: str, solver: str, coef: float, power: float, seed: int) -> Path:
    """A synthetic sweep of linear models n x p with solve_seconds = coef * p**power * lognormal(0.03)."""
    models = [f"n{n}-p{p}" for n in NS for p in SIZES]
    cells = make_cells(models, EPS, TRIALS, lambda m, e, t: (True, False))
    sweep_dir = root / name
    failed = next(c["cell_id"] for c in cells if c["model"] == "n25-p1000" and c["eps_index"] == 0)
    paths = write_sweep(sweep_dir, cells, TRIALS * len(EPS) * len(SIZES), status={failed: "error"})
    rng = np.random.default_rng(seed)
    specs = {m: {"kind": "linear", "name": m, "design": {"source": "gaussian", "n": n, "p": p}}
             for m, (n, p) in zip(models, [(n, p) for n in NS for p in SIZES], strict=True)}
    for path in paths:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            ds = ds.load()
        p = np.array([specs[str(m)]["design"]["p"] for m in ds["model"].values], float)
        seconds = coef * p**power * np.exp(rng.normal(0.0, 0.03, p.size))
        ds["solve_seconds"].values = np.where(ds["status"].values == "error", 0.0, seconds)  # excluded
        ds.attrs.update(solver=solver, sweep_name=name,
                        model_specs=json.dumps({m: specs[m] for m in map(str, np.unique(ds["model"].values))}))
        ds.to_netcdf(path, engine="netcdf4")
    return sweep_dir


def test_scaling_study_recovers_known_power_laws(tmp_path: Path) -> None:
    slow = _power_sweep(tmp_path, "s-highs", "highs", 1e-4, 1.5, seed=1)
    fast = _power_sweep(tmp_path, "s-batched", "batched", 1e-5, 1.0, seed=2)
    out = tmp_path / "out"
    result = scaling_study([fast, slow], out, formats=("png",))
    assert result.reference == "batched"
    assert len(result.fits) == 2 * len(NS) * len(EPS)
    for fit in result.fits:
        want = 1.5 if fit.solver == "highs" else 1.0
        assert fit.slope == pytest.approx(want, abs=0.05)
        assert 0 < fit.slope_se < 0.05
        assert (fit.n_sizes, fit.size_min, fit.size_max) == (5, 200, 5000)
    upper = fit_series(result.points, min_size=1000)  # sizes 1000, 2000, 5000 only
    assert len(upper) == 8 and all((f.n_sizes, f.size_min) == (3, 1000) for f in upper)
    assert all(f.slope == pytest.approx(1.5 if f.solver == "highs" else 1.0, abs=0.08) for f in upper)
    failed = [p for p in result.points if p.model == "n25-p1000" and p.epsilon == 0.1 and p.solver == "highs"]
    assert failed[0].cells == TRIALS - 1
    assert all(p.exact_fraction == 1.0 for p in result.points)
    assert any("status error" in n for n in result.notes)

    slopes = read_csv(out / "scaling_slopes.csv")
    assert len(slopes) == 8
    assert {r["solver"] for r in slopes} == {"highs", "batched"}
    assert all(abs(float(r["slope"]) - (1.5 if r["solver"] == "highs" else 1.0)) < 0.05 for r in slopes)
    times = read_csv(out / "scaling_times.csv")
    assert len(times) == 2 * len(NS) * len(SIZES) * len(EPS)
    for row in times:
        p = int(row["size"])
        want = 1.0 if row["solver"] == "batched" else 1e-4 * p**1.5 / (1e-5 * p)  # 10 sqrt(p)
        assert float(row["ratio_to_reference"]) == pytest.approx(want, rel=0.1)
        assert row["reference_solver"] == "batched"
    assert (out / "scaling.png").stat().st_size > 10_000
    assert not (out / "scaling.pdf").exists()
    assert "highs / batched" in (out / "scaling_summary.txt").read_text()


def _tiny_config(path: Path, out: Path) -> Path:
    models = "".join(
        f'[[models]]\nname = "n10-p{p}"\nkind = "linear"\ndesign = {{ source = "gaussian", n = 10, p = {p} }}\n'
        for p in (40, 160)
    )
    path.write_text(
        f'[sweep]\nname = "tiny-scaling"\nseed = 5\ntrials = 3\ncells_per_shard = 3\noutput = "{out.as_posix()}"\n'
        '[grid]\nepsilon = [0.1]\n[repair]\nsolver = "highs"\ntolerance = 1e-6\nmode = "full"\n'
        '[executor]\nbackend = "debug"\n' + models
    )
    return path


def test_cli_scaling_on_a_tiny_real_sweep(tmp_path: Path, capsys) -> None:
    from jobs.cli import main

    sweep_dir = tmp_path / "sweep"
    config = _tiny_config(tmp_path / "tiny.toml", sweep_dir)
    assert main(["run", str(config), "-q"]) == 0
    capsys.readouterr()
    out = tmp_path / "fig"
    assert main(["scaling", str(config), "-o", str(out)]) == 0  # a config resolves to its sweep folder
    printed = capsys.readouterr().out
    assert "slope" in printed and "scaling_png" in printed
    assert (out / "scaling.png").stat().st_size > 0 and (out / "scaling.pdf").stat().st_size > 0
    (fit,) = read_csv(out / "scaling_slopes.csv")
    assert (fit["solver"], fit["kind"], fit["n"], fit["n_sizes"]) == ("highs", "linear", "10", "2")
    assert (fit["size_min"], fit["size_max"], fit["cells"]) == ("40", "160", "6")
    assert math.isfinite(float(fit["slope"])) and fit["slope_se"] == "nan"
    times = read_csv(out / "scaling_times.csv")
    assert [(r["model"], r["size"], r["cells"]) for r in times] == [("n10-p40", "40", "3"), ("n10-p160", "160", "3")]
    assert all(float(r["q25_s"]) <= float(r["median_s"]) <= float(r["q75_s"]) for r in times)
    assert all(float(r["ratio_to_reference"]) == 1.0 for r in times)
    parts = []
    for f in sorted((sweep_dir / "shards").glob("*.nc")):
        with xr.open_dataset(f, engine="netcdf4") as ds:
            parts.append(ds.load())
    cells = xr.concat(parts, dim="cell")
    for r in times:  # share of exactly repaired cells, counted from the shard files
        want = float(cells["exact_repair"].values[cells["model"].values == r["model"]].mean())
        assert float(r["exact_fraction"]) == pytest.approx(want)
    # default output folder: <first sweep>/aggregate
    assert main(["scaling", str(sweep_dir), "--format", "png"]) == 0
    assert (sweep_dir / "aggregate" / "scaling.png").is_file()


def test_cli_scaling_rejects_a_non_sweep_folder(tmp_path: Path, capsys) -> None:
    from jobs.cli import main

    plain = tmp_path / "plain"
    plain.mkdir()
    assert main(["scaling", str(plain)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "not a sweep folder (no shards/ inside)" in err and str(plain) in err
    assert main(["scaling", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing" in err
