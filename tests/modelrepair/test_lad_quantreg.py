"""The "quantreg" backend: a clear error without R, agreement with HiGHS with R."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from modelrepair.lad import quantreg as qr
from modelrepair.lad import solve_lad


def test_missing_rscript_is_clear_error(monkeypatch):
    monkeypatch.setattr(qr.shutil, "which", lambda name: None)
    with pytest.raises(qr.QuantregUnavailable, match="Rscript not found"):
        solve_lad(np.ones((5, 1)), np.arange(5.0), solver="quantreg")


def test_bad_method_rejected():
    with pytest.raises(ValueError, match="'fn' or 'br'"):
        solve_lad(np.ones((5, 1)), np.arange(5.0), solver="quantreg", method="lasso")


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R is not installed")
def test_quantreg_fn_br_agree_with_highs():
    try:
        qr.check_available()
    except qr.QuantregUnavailable as err:
        pytest.skip(str(err))
    rng = np.random.default_rng(0)
    A = rng.standard_normal((60, 3))
    B = A @ rng.standard_normal((3, 3)) + (rng.random((60, 3)) < 0.2) * rng.normal(1, 1, (60, 3))
    ref = solve_lad(A, B, solver="highs")
    br = solve_lad(A, B, solver="quantreg", method="br", workers=2)
    assert np.all(br.status == "exact_lp") and br.solver == "quantreg-br"
    np.testing.assert_allclose(br.U, ref.U, atol=1e-9)
    np.testing.assert_allclose(br.objective, ref.objective, rtol=1e-9)
