"""Shared fixtures: paths to the real datasets beside the project (../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder with colon_alon1999_{X,y}.csv and mnist/; skips if it is not beside the repo."""
    if not (SHARED_DATA / "colon_alon1999_X.csv").is_file():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def colon_paths(shared_data: Path) -> tuple[Path, Path]:
    return shared_data / "colon_alon1999_X.csv", shared_data / "colon_alon1999_y.csv"


@pytest.fixture(scope="session")
def mnist_dir(shared_data: Path) -> Path:
    return shared_data / "mnist"
