"""Content-addressed cache of fitted models: ``<cache_dir>/<key>.npz``.

The key is sha256(spec content hash, fit seed entropy and spawn key). Only specs with
``cacheable = True`` use it; others are fitted in memory. Safe with concurrent processes,
also on several nodes sharing a file system:

- one process fits while holding an exclusive POSIX lock (``fcntl.lockf``, which NFS
  supports and the kernel releases when the holder dies) on ``<key>.lock``; the others
  block on the lock and then load what it wrote;
- the file is written atomically (tmp + fsync + rename) and carries a sha256 checksum of
  its arrays; a file that fails to load or to verify (truncated, garbage) is rebuilt.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from jobs.fsutil import atomic_write
from modelrepair.models import FittedModel, ModelSpec

CHECKSUM_KEY = "__checksum__"
CACHE_KEY = "__cache_key__"


def cache_key(spec: ModelSpec, seed: np.random.SeedSequence) -> str:
    blob = f"{spec.content_hash()}|{seed.entropy}|{tuple(seed.spawn_key)}"
    return hashlib.sha256(blob.encode()).hexdigest()


def arrays_checksum(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over names, dtypes, shapes and bytes of the arrays (sorted by name)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def read_cache_file(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays in ``path`` if it is complete and verifies, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError):
        return None
    checksum = str(data.pop(CHECKSUM_KEY, ""))
    stored_key = str(data.pop(CACHE_KEY, ""))
    if stored_key != key or checksum != arrays_checksum(data):
        return None
    return data


def write_cache_file(path: Path, key: str, arrays: Mapping[str, np.ndarray]) -> None:
    payload = {name: np.asarray(a) for name, a in arrays.items()}
    payload[CHECKSUM_KEY] = np.array(arrays_checksum(payload))
    payload[CACHE_KEY] = np.array(key)

    def write(tmp: Path) -> None:
        buf = io.BytesIO()
        np.savez(buf, **payload)
        tmp.write_bytes(buf.getvalue())

    atomic_write(path, write)


class _Lock:
    """Exclusive POSIX lock on ``path`` (blocking); released on exit or process death."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)


def load_or_fit_with_source(
    spec: ModelSpec, seed: np.random.SeedSequence, cache_dir: str | Path | None, *, use_cache: bool | None = None
) -> tuple[FittedModel, str]:
    """Like `load_or_fit`, also saying where the model came from: fit | cache | fit+cached."""
    cached = spec.cacheable if use_cache is None else use_cache
    if not cached or cache_dir is None:
        return spec.fit(seed), "fit"
    key = cache_key(spec, seed)
    path = Path(cache_dir) / f"{key}.npz"
    arrays = read_cache_file(path, key)
    if arrays is not None:
        return spec.from_arrays(arrays), "cache"
    with _Lock(Path(cache_dir) / f"{key}.lock"):
        arrays = read_cache_file(path, key)  # another process may have finished meanwhile
        if arrays is not None:
            return spec.from_arrays(arrays), "cache"
        model = spec.fit(seed)
        write_cache_file(path, key, model.to_arrays())
        return model, "fit+cached"


def load_or_fit(spec: ModelSpec, seed: np.random.SeedSequence, cache_dir: str | Path | None) -> FittedModel:
    """The fitted model for (spec, seed): from the cache if valid, else fitted (and cached)."""
    return load_or_fit_with_source(spec, seed, cache_dir)[0]
