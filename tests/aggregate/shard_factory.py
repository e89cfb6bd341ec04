"""Synthetic shard files written exactly in the SCHEMA.md layout (independent of jobs/)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

MANIFEST_HASH = hashlib.sha256(b"test manifest").hexdigest()
FOREIGN_HASH = hashlib.sha256(b"another sweep").hexdigest()
LAYER_NAMES = {"lin-a": ["theta", ""], "lin-b": ["theta", ""], "net": ["W", "beta"]}


def make_cells(
    models: Sequence[str],
    eps: Sequence[float],
    n_trials: int,
    exact_fn,
    two_layer: Sequence[str] = (),
) -> list[dict]:
    """Grid in order model x eps x trial; ``exact_fn(model, eps_index, trial) -> (l1, l2)``."""
    cells = []
    cid = 0
    for model in models:
        for ei, e in enumerate(eps):
            for t in range(n_trials):
                l1, l2 = exact_fn(model, ei, t)
                two = model in two_layer
                cells.append(
                    dict(cell_id=cid, model=model, epsilon=float(e), eps_index=ei, trial=t,
                         l1=bool(l1), l2=bool(l2) if two else None)
                )
                cid += 1
    return cells


def make_example_shard(
    path: Path,
    cells: Sequence[dict],
    *,
    manifest_hash: str = MANIFEST_HASH,
    sweep_name: str = "test-sweep",
    shard_id: str | None = None,
    status: dict[int, str] | None = None,
    extras: bool = False,
) -> Path:
    """Write one shard file with the SCHEMA.md variables, coordinates and attributes.

    Errors: exact layers get max_abs_error 1e-12 * (trial+1) (0 for trial 0), failed ones
    0.1 * (eps_index+1); mse = error**2.  Absent layer2: -1 / NaN fill values.
    """
    status = status or {}
    n = len(cells)
    lex = np.full((n, 2), -1, np.int8)
    err = np.full((n, 2), np.nan)
    ok_status = []
    for i, c in enumerate(cells):
        st = status.get(c["cell_id"], "ok")
        ok_status.append(st)
        for j, key in enumerate(("l1", "l2")):
            if c[key] is None:
                continue
            lex[i, j] = int(c[key])
            err[i, j] = 1e-12 * c["trial"] if c[key] else 0.1 * (c["eps_index"] + 1)
    exact = np.array(
        [st == "ok" and all(v != 0 for v in row if v >= 0) for st, row in zip(ok_status, lex, strict=True)]
    )
    present = lex >= 0
    units = np.where(present, 10, -1).astype(np.int32)
    ds = xr.Dataset(
        {
            "exact_repair": (("cell",), exact, {"long_name": "exact repair of every layer"}),
            "layer_exact_repair": (("cell", "layer"), lex, {"long_name": "layer exactly repaired"}),
            "max_abs_error": (("cell", "layer"), err, {"long_name": "max abs error"}),
            "mse": (("cell", "layer"), err**2, {"long_name": "mean squared error"}),
            "units_repaired": (("cell", "layer"), np.where(lex == 1, 10, np.where(present, 3, -1)).astype(np.int32)),
            "units_total": (("cell", "layer"), units),
            "n_corrupted": (("cell", "layer"), np.where(present, 4, -1).astype(np.int32)),
            "status": (("cell",), np.array(ok_status, dtype=object)),
            "solve_seconds": (("cell",), np.full(n, 0.01), {"long_name": "solve time", "units": "s"}),
            "certified_fraction": (("cell",), np.full(n, np.nan)),
            "message": (("cell",), np.array(["" for _ in cells], dtype=object)),
        },
        coords={
            "cell_id": (("cell",), np.array([c["cell_id"] for c in cells], np.int64)),
            "model": (("cell",), np.array([c["model"] for c in cells], dtype=object)),
            "epsilon": (("cell",), np.array([c["epsilon"] for c in cells], np.float64)),
            "eps_index": (("cell",), np.array([c["eps_index"] for c in cells], np.int32)),
            "trial": (("cell",), np.array([c["trial"] for c in cells], np.int32)),
            "layer": (("layer",), np.array(["layer1", "layer2"], dtype=object)),
        },
    )
    if extras:
        ds["extra_filter_error"] = (("cell",), np.arange(n, dtype=float))
    models = sorted({c["model"] for c in cells})
    ds.attrs.update(
        sweep_name=sweep_name,
        manifest_hash=manifest_hash,
        shard_id=shard_id or path.stem,
        model_specs=json.dumps({m: {"kind": "linear", "name": m} for m in models}),
        layer_names=json.dumps({m: LAYER_NAMES.get(m, ["layer1", "layer2"]) for m in models}),
        solver="highs", solver_version="1.7", package_version="0.1.0", host="test",
        slurm_job_id="", created="2026-12-03T00:00:00Z", n_cells=n, schema_version=1,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="netcdf4")
    return path


def write_sweep(
    sweep_dir: Path,
    cells: Sequence[dict],
    cells_per_shard: int,
    *,
    manifest: bool = True,
    models: Sequence[str] | None = None,
    **kwargs,
) -> list[Path]:
    """Write cells as consecutive shards (shard-00000, ...) and a manifest.json."""
    paths, shards = [], []
    for k, start in enumerate(range(0, len(cells), cells_per_shard)):
        chunk = list(cells[start : start + cells_per_shard])
        sid = f"shard-{k:05d}"
        paths.append(make_example_shard(sweep_dir / "shards" / f"{sid}.nc", chunk, **kwargs))
        shards.append({"shard_id": sid, "cell_ids": [c["cell_id"] for c in chunk]})
    if manifest:
        order = list(models) if models else list(dict.fromkeys(c["model"] for c in cells))
        doc = {"hash": kwargs.get("manifest_hash", MANIFEST_HASH), "sweep_name": "test-sweep",
               "models": [{"name": m} for m in order], "shards": shards}
        (sweep_dir / "manifest.json").write_text(json.dumps(doc))
    return paths


def linear_pattern(model: str, ei: int, t: int) -> tuple[bool, bool]:
    """lin-a repairs for trials < 10 - 2*ei (P = 1, .8, .6, .4, .2, 0 over 10 trials);
    lin-b never repairs after eps index 0; net: layer1 as lin-a, layer2 fails on odd trials."""
    if model == "lin-b":
        return ei == 0, False
    l1 = t < 10 - 2 * ei
    return l1, (l1 and t % 2 == 0) if model == "net" else False
