"""Atomic output files: write to a temp file beside the target, fsync, rename over it.

A reader never sees a half-written curves file, CSV or figure, whatever kills the writer.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def atomic_write(final: Path, write: Callable[[Path], None]) -> Path:
    """Write via ``write(tmp)`` to a temp file beside ``final``, fsync, then rename over it."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def atomic_write_text(final: Path, text: str) -> Path:
    """`atomic_write` of ``text`` (newline-terminated)."""
    return atomic_write(final, lambda p: p.write_text(text if text.endswith("\n") else text + "\n"))
