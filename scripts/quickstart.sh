#!/usr/bin/env bash
# Set up (if needed) and run the embedded default sweep locally; prints the figure's path.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/mrsweep run --default "$@"
