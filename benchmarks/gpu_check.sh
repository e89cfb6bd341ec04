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
# the R quantreg ratios from a CPU run, benchmarks/README.md). Exits non-zero when the
# tests or the benchmark fail.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi -L 2>&1 | head -n 2
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
      'allow_tf32', torch.backends.cuda.matmul.allow_tf32)"
# TF32 overrides (NGC images) force TF32 on every float32 product: the float32 ADMM and CG
# then certify a little later (emulated on the CPU: still all certified), timings shift.
echo "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=${TORCH_ALLOW_TF32_CUBLAS_OVERRIDE:-unset}" \
     "NVIDIA_TF32_OVERRIDE=${NVIDIA_TF32_OVERRIDE:-unset}"
python3 -m pytest -q -p no:cacheprovider -k "cuda or torch" \
    tests/modelrepair/test_lad_batched.py 2>&1 | tee "$OUT/gpu_tests.log" | tail -n 15
tests_rc=${PIPESTATUS[0]}
X=.gpudata/colon_alon1999_X.csv
[ -f "$X" ] || echo "note: $X missing: the colon case runs on a Gaussian design (colon-synthetic)"
python3 benchmarks/lad.py --cases colon --eps 0.1 0.3 0.5 --solvers batched \
    --ours batched-cuda --repeat 5 --colon-x "$X" 2>&1 | tee "$OUT/gpu_bench.md"
bench_rc=${PIPESTATUS[0]}
echo "gpu_check: tests exit $tests_rc, benchmark exit $bench_rc"
exit $(( tests_rc != 0 ? tests_rc : bench_rc ))
