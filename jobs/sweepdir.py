"""A sweep folder: create it from a config, or check that it holds the same sweep.

Layout: ``manifest.json``, ``jobs.jsonl``, ``shards/``, ``partial/``, ``models/`` (fit
cache), ``logs/`` (submitit, one folder per run), ``aggregate/`` (curves and figures),
``superseded/<old hash>-<time>/`` (what ``--new`` moved aside).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from jobs.config import SweepConfig, load_config
from jobs.manifest import (
    MANIFEST,
    Manifest,
    ManifestError,
    build_manifest,
    changed_keys,
    load_manifest,
)
from modelrepair.errors import UserError

MOVED_ON_NEW = (MANIFEST, "jobs.jsonl", "shards", "partial", "aggregate")


def supersede(sweep_dir: Path, old: Manifest) -> Path:
    """Move the old manifest, job records, shards and outputs to ``superseded/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    dest = sweep_dir / "superseded" / f"{old.hash[:12]}-{stamp}"
    dest.mkdir(parents=True, exist_ok=True)
    for name in MOVED_ON_NEW:
        if (sweep_dir / name).exists():
            os.replace(sweep_dir / name, dest / name)
    return dest


def prepare_sweep(config: SweepConfig, sweep_dir: Path, *, new: bool = False) -> tuple[Manifest, str]:
    """Plan ``config`` into ``sweep_dir``; returns (manifest, what happened).

    Same hash as the manifest already there: reuse it. Different: ManifestError naming
    what changed, unless ``new`` (then the old sweep's files move to ``superseded/``).
    """
    planned = build_manifest(config)
    if (sweep_dir / MANIFEST).is_file():
        try:
            current = load_manifest(sweep_dir)
        except ManifestError:
            if not new:
                raise
            current = None
        if current is not None and current.hash == planned.hash:
            return current, "existing"
        if not new:
            what = ", ".join(changed_keys(current, planned)) or "content"  # type: ignore[arg-type]
            raise ManifestError(
                f"{sweep_dir} holds a different sweep (manifest {current.hash[:12]}, this config {planned.hash[:12]};"  # type: ignore[union-attr]
                f" changed: {what}). Use --new to start over there (old results move to superseded/),"
                " or set another sweep.output / --output"
            )
        if current is not None:
            moved = supersede(sweep_dir, current)
            planned.write(sweep_dir)
            return planned, f"replaced (old sweep moved to {moved})"
    sweep_dir.mkdir(parents=True, exist_ok=True)
    planned.write(sweep_dir)
    return planned, "planned"


def resolve_target(target: str | Path, data_dir: str | None = None, output: str | None = None) -> tuple[Path, SweepConfig | None]:
    """A sweep folder, or a config file (then its output folder); returns (folder, config)."""
    p = Path(target)
    if p.is_file() and p.suffix == ".toml":
        config = load_config(p, data_dir=data_dir)
        return config.output_dir(output), config
    if p.is_dir():
        if output is not None and Path(output).absolute() != p.absolute():
            raise UserError(f"--output {output}: only with a config .toml (it names that config's sweep "
                            f"folder); {target} is already a sweep folder, and its results go to {p / 'aggregate'}")
        return p.absolute(), None
    raise ManifestError(f"{target}: neither a sweep folder nor a .toml config file")
