"""Helpers for the jobs tests: write small sweep configs, read shard results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

REPO = Path(__file__).resolve().parents[2]
MRSWEEP = [sys.executable, "-m", "jobs.cli"]
TIMING_VARS = ("solve_seconds",)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    return repr(v)


def write_config(
    path: Path,
    *,
    sweep: dict | None = None,
    epsilon=(0.0, 0.3, 0.6, 0.9),
    models: list[dict] | None = None,
    executor: dict | None = None,
    repair: dict | None = None,
    extra: str = "",
) -> Path:
    """A small linear sweep config (n=10; p=40 and 80 by default) written to ``path``."""
    sweep = {"name": "t", "seed": 3, "trials": 3, "cells_per_shard": 4, **(sweep or {})}
    models = models if models is not None else [
        {"name": "p40", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 40}},
        {"name": "p80", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 80}},
    ]
    executor = executor or {"backend": "debug"}
    lines = ["[sweep]"] + [f"{k} = {toml_value(v)}" for k, v in sweep.items()]
    lines += ["[grid]", f"epsilon = {toml_value(list(epsilon))}"]
    lines += ["[repair]"] + [f"{k} = {toml_value(v)}" for k, v in (repair or {"solver": "highs"}).items()]
    lines += ["[executor]"] + [f"{k} = {toml_value(v)}" for k, v in executor.items()]
    for m in models:
        lines += ["[[models]]"] + [f"{k} = {toml_value(v)}" for k, v in m.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def cli(*args: str, cwd: Path | None = None, check: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``mrsweep args`` in a subprocess."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([*MRSWEEP, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"mrsweep {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def read_cells(sweep_dir: Path) -> xr.Dataset:
    """All shard files of a sweep concatenated along cell, sorted by cell_id."""
    parts = []
    for p in sorted((Path(sweep_dir) / "shards").glob("*.nc")):
        with xr.open_dataset(p, engine="netcdf4") as ds:
            parts.append(ds.load())
    ds = xr.concat(parts, dim="cell", data_vars="all", coords="all", compat="equals", join="outer", combine_attrs="drop")
    return ds.sortby("cell_id")


def assert_same_results(a: xr.Dataset, b: xr.Dataset) -> None:
    """Every per-cell variable and coordinate equal bit for bit (NaN == NaN), timing excluded."""
    assert a.sizes == b.sizes
    names = sorted(set(a.variables) - set(TIMING_VARS))
    assert names == sorted(set(b.variables) - set(TIMING_VARS))
    for name in names:
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype or (x.dtype.kind in "OU" and y.dtype.kind in "OU"), name
        if x.dtype.kind == "f":
            assert np.array_equal(x, y, equal_nan=True), name
        else:
            assert np.array_equal(x, y), name
