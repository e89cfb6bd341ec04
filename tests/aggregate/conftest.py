"""Fixtures for aggregate tests: a synthetic sweep folder of shard files."""

from __future__ import annotations

from pathlib import Path

import pytest
from shard_factory import linear_pattern, make_cells, write_sweep


@pytest.fixture
def eps_grid() -> list[float]:
    return [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]


@pytest.fixture
def sweep(tmp_path: Path, eps_grid) -> tuple[Path, list[dict]]:
    """A 3-model sweep (two 1-layer models, one 2-layer 'net'), 10 trials, 18 shards of 10 cells."""
    cells = make_cells(["lin-a", "lin-b", "net"], eps_grid, 10, linear_pattern, two_layer=["net"])
    sweep_dir = tmp_path / "sweep"
    write_sweep(sweep_dir, cells, 10)
    return sweep_dir, cells
