"""Repair verdicts of a small linear-model sweep are identical with "batched" and "highs"."""

from __future__ import annotations

import numpy as np

from modelrepair.models.base import RepairSettings
from modelrepair.models.linear import DesignSpec, LinearSpec


def test_linear_repair_verdicts_batched_equal_highs():
    fitted = LinearSpec(design=DesignSpec(n=15, p=150)).fit(np.random.SeedSequence(11))
    verdicts = {}
    errors = {}
    for solver in ("batched", "highs"):
        settings = RepairSettings(solver=solver, tolerance=1e-6)
        out = []
        for i, eps in enumerate((0.05, 0.2, 0.35, 0.5, 0.7, 0.9)):
            for trial in range(2):
                rng = np.random.default_rng([i, trial, 5])
                cell = fitted.repair_cell(eps, rng, settings)
                assert cell.status == "ok"
                out.append(cell)
        verdicts[solver] = [c.exact_repair for c in out]
        errors[solver] = np.array([c.layers[0].max_abs_error for c in out])
    assert verdicts["batched"] == verdicts["highs"]
    # Low eps repairs exactly, eps 0.9 does not: both outcomes are exercised.
    assert verdicts["highs"][0] and not verdicts["highs"][-1]
    np.testing.assert_allclose(errors["batched"], errors["highs"], atol=1e-8)
