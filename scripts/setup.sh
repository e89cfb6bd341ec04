#!/usr/bin/env bash
# Idempotent set-up: a virtual environment in .venv with modelrepair and its dependencies.
# torch comes from `pip install torch==2.13.0` (a CPU build on these machines); an
# unpinned torch would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.modelrepair-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "[setup] installing dependencies (first run: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -m pip install -q torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
  PYTHONWARNINGS=ignore .venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import modelrepair, jobs, aggregate, torch, xarray, netCDF4, submitit, cvxpy" \
    || { echo "[setup] installation incomplete: see pip's messages above" >&2; exit 1; }
  touch "$stamp"
fi
