"""Model cache: one fit under concurrent processes, identical arrays, corrupt files rebuilt."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from cache_worker import SEED, SPEC

from jobs.model_cache import cache_key, load_or_fit, load_or_fit_with_source, read_cache_file
from modelrepair.models.linear import DesignSpec, LinearSpec

WORKER = Path(__file__).with_name("cache_worker.py")
REPO = Path(__file__).resolve().parents[2]


def test_concurrent_processes_fit_once(tmp_path: Path) -> None:
    cache = tmp_path / "models"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(cache), str(barrier)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    deadline = time.monotonic() + 300
    while len(list(barrier.glob("ready-*"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    (barrier / "go").touch()  # all three now race for the same key; the fit takes 0.5 s
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(out.split())
    sources = sorted(o[0] for o in outs)
    assert sources.count("fit+cached") == 1 and sources.count("cache") == 2, sources
    assert len({o[1] for o in outs}) == 1  # identical theta everywhere
    assert [p.name for p in cache.glob("*.npz")] == [f"{cache_key(SPEC, SEED)}.npz"]
    # the cached arrays are the fitted ones, bit for bit
    theta = SPEC.__class__.__mro__[1].fit(SPEC, SEED).theta
    assert hashlib.sha256(theta.tobytes()).hexdigest() == outs[0][1]


def test_truncated_or_garbage_cache_file_is_rebuilt(tmp_path: Path) -> None:
    model, source = load_or_fit_with_source(SPEC, SEED, tmp_path)
    assert source == "fit+cached"
    path = tmp_path / f"{cache_key(SPEC, SEED)}.npz"
    good = path.read_bytes()
    assert read_cache_file(path, cache_key(SPEC, SEED)) is not None
    for bad in (good[: len(good) // 2], b"garbage"):
        path.write_bytes(bad)
        assert read_cache_file(path, cache_key(SPEC, SEED)) is None
        again, source = load_or_fit_with_source(SPEC, SEED, tmp_path)
        assert source == "fit+cached"
        assert np.array_equal(again.theta, model.theta) and np.array_equal(again.X, model.X)
    # a valid zip whose theta was altered fails the checksum
    key = cache_key(SPEC, SEED)
    with np.load(path) as npz:
        stored = {k: npz[k] for k in npz.files}
    assert set(stored) == {"X", "y", "theta", "__checksum__", "__cache_key__"}
    stored["theta"] = stored["theta"] + 1e-12
    with path.open("wb") as fh:
        np.savez(fh, **stored)
    assert read_cache_file(path, key) is None
    again, source = load_or_fit_with_source(SPEC, SEED, tmp_path)
    assert source == "fit+cached" and np.array_equal(again.theta, model.theta)
    loaded, source = load_or_fit_with_source(SPEC, SEED, tmp_path)
    assert source == "cache" and np.array_equal(loaded.theta, model.theta)


def test_non_cacheable_specs_fit_in_memory(tmp_path: Path) -> None:
    spec = LinearSpec(name="lin", design=DesignSpec(n=5, p=12))
    m1 = load_or_fit(spec, SEED, tmp_path)
    m2, source = load_or_fit_with_source(spec, SEED, tmp_path)
    assert source == "fit" and np.array_equal(m1.theta, m2.theta)
    assert not list(tmp_path.iterdir())
    # a different seed is a different key
    assert cache_key(spec, SEED) != cache_key(spec, np.random.SeedSequence([1, 2, 1], spawn_key=(1,)))
