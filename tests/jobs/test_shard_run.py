"""Shard runner and backends: identical per-cell results whatever the sharding or backend."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from jobs_testkit import assert_same_results, read_cells, write_config

from jobs.cli import main
from jobs.config import load_config
from jobs.executors import read_jobs
from jobs.manifest import load_manifest
from jobs.shard import ShardRunner
from jobs.shard_io import check_shard_file, partial_path, shard_path
from jobs.sweepdir import prepare_sweep
from modelrepair.lad import LadSolution, register_solver

MODEL = [{"name": "p40", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 40}}]


def _run(tmp: Path, name: str, backend: str, cells_per_shard: int, **kw) -> Path:
    out = tmp / name
    cfg = write_config(tmp / f"{name}.toml", sweep={"cells_per_shard": cells_per_shard, "output": str(out)},
                       executor={"backend": backend, **kw}, epsilon=(0.0, 0.4, 0.8), models=MODEL)
    assert main(["run", str(cfg), "-q"]) == 0
    return out


def test_same_results_across_shard_sizes_and_backends(tmp_path: Path) -> None:
    one = read_cells(_run(tmp_path, "debug1", "debug", 1))
    four = read_cells(_run(tmp_path, "debug4", "debug", 4))
    local = read_cells(_run(tmp_path, "local5", "local", 5, workers=2))
    assert one.sizes["cell"] == 9 and one["cell_id"].values.tolist() == list(range(9))
    assert_same_results(one, four)
    assert_same_results(one, local)
    # the values themselves make sense: eps = 0 always repaired exactly, errors at 1e-8 or below
    eps0 = one.where(one.epsilon == 0.0, drop=True)
    assert eps0["exact_repair"].all() and float(eps0["max_abs_error"].sel(layer="layer1").max()) < 1e-8
    assert (one["status"].values == "ok").all()
    assert one["layer_exact_repair"].sel(layer="layer2").values.tolist() == [-1] * 9
    assert np.isnan(one["mse"].sel(layer="layer2").values).all()
    assert (one["units_total"].sel(layer="layer1").values == 1).all()
    # the number of corrupted entries grows with eps
    nc = one["n_corrupted"].sel(layer="layer1").values.reshape(3, 3).mean(axis=1)
    assert nc[0] == 0 and nc[1] < nc[2]


def test_shard_file_schema_attributes(tmp_path: Path) -> None:
    out = _run(tmp_path, "s", "debug", 4)
    m = load_manifest(out)
    with xr.open_dataset(shard_path(out, "shard-00001"), engine="netcdf4") as ds:
        assert ds.attrs["manifest_hash"] == m.hash and ds.attrs["shard_id"] == "shard-00001"
        assert ds.attrs["sweep_name"] == "t" and int(ds.attrs["n_cells"]) == 4 and int(ds.attrs["schema_version"]) == 1
        assert '"p40"' in ds.attrs["model_specs"] and ds.attrs["layer_names"] == '{"p40": ["theta"]}'
        assert ds.attrs["solver"] == "highs" and ds.attrs["slurm_job_id"] == ""
        assert ds["cell_id"].values.tolist() == [4, 5, 6, 7]
        assert ds["layer"].values.tolist() == ["layer1", "layer2"]
        assert ds["solve_seconds"].attrs["units"] == "s" and "long_name" in ds["exact_repair"].attrs
        assert ds["exact_repair"].dtype == bool and ds["units_repaired"].dtype == np.int32
    assert len(read_jobs(out)) == 3 and {j.backend for j in read_jobs(out)} == {"debug"}


@register_solver("test_always_fails")
def _failing(A, B, **_):
    return LadSolution(np.full((A.shape[1], B.shape[1]), np.nan), np.array(["failed"] * B.shape[1]), "test_always_fails", 0.0)


def test_solver_failure_and_cell_error_are_outcomes(tmp_path: Path, monkeypatch) -> None:
    cfg = write_config(tmp_path / "f.toml", sweep={"cells_per_shard": 3, "output": str(tmp_path / "f")},
                       repair={"solver": "test_always_fails"}, epsilon=(0.0, 0.5), models=MODEL, executor={"backend": "debug"})
    assert main(["run", str(cfg), "-q"]) == 0
    ds = read_cells(tmp_path / "f")
    assert ds["status"].values.tolist() == ["solver_failed"] * 6
    assert not ds["exact_repair"].values.any()
    assert np.isinf(ds["max_abs_error"].sel(layer="layer1").values).all()
    # an exception inside a cell: status "error" with the message, other cells unaffected
    from modelrepair.models.linear import FittedLinear

    orig = FittedLinear.repair_cell

    def flaky(self, eps, rng, settings):
        if eps == 0.5:
            raise RuntimeError("boom at 0.5")
        return orig(self, eps, rng, settings)

    monkeypatch.setattr(FittedLinear, "repair_cell", flaky)
    cfg2 = write_config(tmp_path / "e.toml", sweep={"cells_per_shard": 3, "output": str(tmp_path / "e")},
                        epsilon=(0.0, 0.5), models=MODEL, executor={"backend": "debug"})
    assert main(["run", str(cfg2), "-q"]) == 0
    ds = read_cells(tmp_path / "e")
    assert ds["status"].values.tolist() == ["ok"] * 3 + ["error"] * 3
    assert ds["message"].values.tolist()[3] == "RuntimeError: boom at 0.5"
    assert ds["exact_repair"].values.tolist() == [True] * 3 + [False] * 3
    assert ds["layer_exact_repair"].values[3].tolist() == [-1, -1]
    # status names them per model (from the finished shard files), for both sweeps
    from jobs.status import format_status, sweep_status

    model = MODEL[0]["name"]
    assert f"note: model {model}: 3 error cell(s) in finished shards" in format_status(sweep_status(tmp_path / "e"))
    assert f"note: model {model}: 6 solver_failed cell(s)" in format_status(sweep_status(tmp_path / "f"))


def test_partial_checkpoint_is_resumed(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path / "p.toml", sweep={"cells_per_shard": 6}, epsilon=(0.0, 0.5), models=MODEL))
    sweep = tmp_path / "p"
    m, _ = prepare_sweep(cfg, sweep)
    ref = ShardRunner(sweep, "shard-00000", m)
    ref.run()
    ref_ds = read_cells(sweep)
    shard_path(sweep, "shard-00000").unlink()
    # a runner that got through 4 cells before being checkpointed
    first = ShardRunner(sweep, "shard-00000", m)
    first.finished = {k: v for k, v in ref.finished.items() if k < 4}
    assert first.save_partial() == partial_path(sweep, "shard-00000")
    again = ShardRunner(sweep, "shard-00000", m)
    calls = []
    import jobs.shard as shard_mod

    orig = shard_mod.run_cell
    shard_mod.run_cell = lambda *a: calls.append(a[1].cell_id) or orig(*a)
    try:
        again.run()
    finally:
        shard_mod.run_cell = orig
    assert again.resumed_cells == 4 and calls == [4, 5]
    assert not partial_path(sweep, "shard-00000").exists()
    assert check_shard_file(shard_path(sweep, "shard-00000"), m.hash, "shard-00000", range(6)).done
    assert_same_results(read_cells(sweep), ref_ds)


def test_resume_force_reruns_every_shard(tmp_path: Path, capsys) -> None:
    out = _run(tmp_path, "f", "debug", 4)
    before = read_cells(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "shards").glob("*.nc")}
    capsys.readouterr()
    assert main(["resume", str(out), "-q"]) == 0
    assert "nothing to do: all 3 shards" in capsys.readouterr().out
    assert main(["resume", str(out), "-q", "--force"]) == 0
    assert "running 3 of 3 shards" in capsys.readouterr().out
    assert len(read_jobs(out)) == 6
    assert all((out / "shards" / n).stat().st_mtime_ns != t for n, t in mtimes.items())
    assert_same_results(read_cells(out), before)
