"""Subprocess helper for test_model_cache: a slow cacheable model kind + one load_or_fit call.

Usage: python cache_worker.py CACHE_DIR BARRIER_DIR -> prints "<source> <sha256 of theta>".
It writes BARRIER_DIR/ready-<pid> and waits for BARRIER_DIR/go, so all workers call
load_or_fit at the same moment.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from jobs.model_cache import load_or_fit_with_source
from modelrepair.models import register_model_kind
from modelrepair.models.linear import DesignSpec, FittedLinear, LinearSpec


@register_model_kind
@dataclass(frozen=True)
class SlowCachedLinear(LinearSpec):
    """A linear model whose fit is slow (0.5 s) and cached."""

    kind = "test_slow_cached_linear"
    cacheable = True

    def fit(self, seed):
        time.sleep(0.5)
        return super().fit(seed)

    def from_arrays(self, arrays):
        return FittedLinear(self, arrays["X"], arrays["y"], arrays["theta"])


SPEC = SlowCachedLinear(name="slow", design=DesignSpec(n=10, p=30))
SEED = np.random.SeedSequence([1, 2, 0], spawn_key=(1,))

if __name__ == "__main__":
    from pathlib import Path

    barrier = Path(sys.argv[2])
    (barrier / f"ready-{os.getpid()}").touch()
    while not (barrier / "go").exists():
        time.sleep(0.01)
    model, source = load_or_fit_with_source(SPEC, SEED, sys.argv[1])
    print(source, hashlib.sha256(model.theta.tobytes()).hexdigest())
