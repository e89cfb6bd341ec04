#!/usr/bin/env bash
# Install R and quantreg (Debian packages) for the LAD benchmark, only where missing.
# Also installs OpenBLAS so R can be run with it (R_LD_LIBRARY_PATH, see benchmarks/README.md).
# Usage: sudo bash benchmarks/setup_r.sh   (or as root; uses apt-get)
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !requireNamespace("quantreg", quietly = TRUE))' >/dev/null 2>&1; then
    echo "R and quantreg already present: $(Rscript --version 2>&1 | head -n1)"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=600 update
$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends \
    r-base-core r-cran-quantreg libopenblas0-pthread
Rscript -e 'library(quantreg); cat("quantreg", as.character(packageVersion("quantreg")), "\n")'
