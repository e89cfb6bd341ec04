#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite. Extra arguments go to pytest.
# Slurm tests run when a local cluster is up (see slurm_templates/local-cluster/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m ruff check . 
exec .venv/bin/python -m pytest "$@"
