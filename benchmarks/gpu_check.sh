#!/usr/bin/env bash
# The GPU check of the batched LAD solver, as ONE short command for a session lent a
# device machine (H200: torch with CUDA, numpy, scipy and pytest are in its image; nothing
# can be installed there, and ../shared does not travel).
#
# Here, once:   mkdir -p .gpudata && cp ../shared/data/colon_alon1999_X.csv .gpudata/
#               (.gpudata/ is git-ignored; 1.9 MB)
# Device run:   command "bash benchmarks/gpu_check.sh", carry [".gpudata"], timeout_s 480
#
# Prints (and writes to $OUT): the CUDA tests of tests/modelrepair/test_lad_batched.py
# (objectives equal to HiGHS' on the device) and the colon-layer benchmark with the CUDA
# solver as "ours" and the CPU solver of the same run side by side (R is not there: take
# the R quantreg ratios from a CPU run, benchmarks/README.md).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L 2>&1 | head -n 2
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
python3 -m pytest -q -p no:cacheprovider -k "cuda or torch" \
    tests/modelrepair/test_lad_batched.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -n 15
X=.gpudata/colon_alon1999_X.csv
[ -f "$X" ] || echo "note: $X missing: the colon case runs on a Gaussian design (colon-synthetic)"
python3 benchmarks/lad.py --cases colon --eps 0.1 0.3 0.5 --solvers batched \
    --ours batched-cuda --repeat 5 --colon-x "$X" 2>&1 | tee "$OUT/gpu_bench.md"
