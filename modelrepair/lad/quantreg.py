"""LAD through R's quantreg (the thesis' solver): ``rq.fit(A, b, tau = 0.5, method)``.

Runs ``Rscript`` in a subprocess (binary files in a temporary folder), one ``rq.fit`` per
column; ``method`` is "fn" (Frisch-Newton interior point, the thesis' choice) or "br"
(Barrodale-Roberts simplex). ``workers`` > 1 splits the columns over that many R processes.
``blas="openblas"`` makes R load OpenBLAS via ``R_LD_LIBRARY_PATH`` (R's start script
otherwise puts the system reference BLAS first). ``LadSolution.seconds`` is the time R
spent in the fits (wall time of the slowest worker), not process start-up or file I/O.
Needs ``Rscript`` and the quantreg package (``benchmarks/setup_r.sh`` installs both).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from modelrepair.lad import LadSolution, register_solver

R_SCRIPT = r"""
args <- commandArgs(TRUE)
con <- file(args[1], "rb"); dims <- readBin(con, "integer", 3)
d <- dims[1]; n <- dims[2]; m <- dims[3]
A <- matrix(readBin(con, "double", d * n), d, n)
B <- matrix(readBin(con, "double", d * m), d, m); close(con)
suppressPackageStartupMessages(library(quantreg))
U <- matrix(NA_real_, n, m); ok <- integer(m)
t0 <- proc.time()[["elapsed"]]
for (j in seq_len(m)) {
  f <- tryCatch(suppressWarnings(rq.fit(A, B[, j], tau = 0.5, method = args[3])),
                error = function(e) NULL)
  if (!is.null(f) && all(is.finite(f$coefficients))) { U[, j] <- f$coefficients; ok[j] <- 1L }
}
el <- proc.time()[["elapsed"]] - t0
con <- file(args[2], "wb")
writeBin(as.double(el), con); writeBin(as.integer(ok), con); writeBin(as.double(U), con)
close(con)
"""


class QuantregUnavailable(RuntimeError):
    """Rscript or the R package quantreg is missing."""


def openblas_dir() -> str | None:
    """Folder holding Debian's OpenBLAS ``libblas.so.3`` (for R_LD_LIBRARY_PATH), if any."""
    hits = sorted(glob.glob("/usr/lib/*/openblas*/libblas.so.3"))
    return str(Path(hits[0]).parent) if hits else None


def check_available() -> str:
    """Path of Rscript; raises QuantregUnavailable with what to install."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        raise QuantregUnavailable(
            "solver 'quantreg' needs R: Rscript not found on PATH (run benchmarks/setup_r.sh)"
        )
    probe = subprocess.run(
        [rscript, "-e", 'quit(status = !requireNamespace("quantreg", quietly = TRUE))'],
        capture_output=True,
    )
    if probe.returncode != 0:
        raise QuantregUnavailable(
            "solver 'quantreg' needs the R package quantreg (run benchmarks/setup_r.sh)"
        )
    return rscript


def _run_chunk(rscript, folder, k, A, B, method, env):
    d, n = A.shape
    inp, out, script = (os.path.join(folder, f"{name}{k}") for name in ("in", "out", "fit.R"))
    with open(script, "w") as fh:
        fh.write(R_SCRIPT)
    with open(inp, "wb") as fh:
        fh.write(np.array([d, n, B.shape[1]], dtype="<i4").tobytes())
        fh.write(np.asarray(A, "<f8").ravel(order="F").tobytes())
        fh.write(np.asarray(B, "<f8").ravel(order="F").tobytes())
    proc = subprocess.run([rscript, script, inp, out, method], capture_output=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"Rscript failed: {proc.stderr.decode(errors='replace')[-500:]}")
    raw = np.fromfile(out, dtype="<u1")
    el = float(np.frombuffer(raw[:8], "<f8")[0])
    m = B.shape[1]
    ok = np.frombuffer(raw[8 : 8 + 4 * m], "<i4").astype(bool)
    U = np.frombuffer(raw[8 + 4 * m :], "<f8").reshape((n, m), order="F")
    return el, ok, U


@register_solver("quantreg")
def solve_quantreg(
    A: np.ndarray,
    B: np.ndarray,
    method: str = "fn",
    workers: int = 1,
    blas: str = "default",
    **_options,
) -> LadSolution:
    """One ``rq.fit(method=...)`` per column of B in R (see module doc)."""
    if method not in ("fn", "br"):
        raise ValueError(f"quantreg method must be 'fn' or 'br', got {method!r}")
    rscript = check_available()
    env = dict(os.environ)
    if blas == "openblas":
        folder = openblas_dir()
        if folder is None:
            raise QuantregUnavailable("blas='openblas' but no OpenBLAS libblas.so.3 found")
        env["R_LD_LIBRARY_PATH"] = folder
        env.setdefault("OPENBLAS_NUM_THREADS", "1" if workers > 1 else "2")
    elif blas != "default":
        raise ValueError(f"blas must be 'default' or 'openblas', got {blas!r}")
    m = B.shape[1]
    chunks = [c for c in np.array_split(np.arange(m), max(1, min(workers, m))) if c.size]
    with tempfile.TemporaryDirectory(prefix="lad_quantreg_") as folder:
        with ThreadPoolExecutor(len(chunks)) as pool:
            futs = [
                pool.submit(_run_chunk, rscript, folder, k, A, B[:, c], method, env)
                for k, c in enumerate(chunks)
            ]
            results = [f.result() for f in futs]
    U = np.full((A.shape[1], m), np.nan)
    status = np.full(m, "failed", dtype=object)
    for c, (_, ok, Uc) in zip(chunks, results, strict=True):
        U[:, c] = Uc
        status[c[ok]] = "exact_lp"
    U[:, status == "failed"] = np.nan
    seconds = max((r[0] for r in results), default=0.0)
    obj = np.sum(np.abs(B - A @ np.nan_to_num(U)), axis=0)
    obj[status == "failed"] = np.nan
    return LadSolution(U, status.astype(str), f"quantreg-{method}", max(seconds, 1e-9), obj)
