"""Aggregate outputs: merge a sweep, compute curves, write files atomically, draw figures.

Writes into ``<sweep_dir>/aggregate/``: ``curves.nc``, ``summary.csv``, ``summary.txt``,
``merge_report.txt``, ``repair_probability.{png,pdf}``, ``errors.{png,pdf}``.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import xarray as xr

from aggregate.atomic import atomic_write, atomic_write_text
from aggregate.curves import compute_curves, format_summary, summary_rows
from aggregate.merge import MergeError, MergeResult, merge_sweep
from modelrepair.errors import DataFileError

OUTPUT_DIRNAME = "aggregate"
CURVES_NAME = "curves.nc"


@dataclass(frozen=True)
class AggregateResult:
    """What `aggregate_sweep` did: the merge report, the curves and the files written."""

    merge: MergeResult
    curves: xr.Dataset
    paths: dict[str, Path]
    summary: str




def _write_csv(final: Path, rows: list[dict[str, object]]) -> Path:
    def write(p: Path) -> None:
        fields = list(dict.fromkeys(k for row in rows for k in row))
        with open(p, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields, restval="")
            w.writeheader()
            w.writerows(rows)

    return atomic_write(final, write)


def _write_curves(final: Path, curves: xr.Dataset) -> Path:
    return atomic_write(final, lambda p: curves.to_netcdf(p, engine="netcdf4"))


def aggregate_sweep(
    sweep_dir: str | Path,
    *,
    allow_partial: bool = False,
    manifest_hash: str | None = None,
    out_dir: str | Path | None = None,
    figures: bool = True,
    formats: Sequence[str] = ("png", "pdf"),
    confidence: float = 0.95,
    interval: str = "wilson",
) -> AggregateResult:
    """Merge shards, compute curves, write curves.nc, summary.csv/.txt, merge_report.txt, figures.

    ``summary`` (also in summary.txt) starts with the merge problems when the merge was partial.

    Raises MergeError (a UserError) when shards are bad/missing and not ``allow_partial``,
    or when no valid cell is left.
    """
    sweep_dir = Path(sweep_dir)
    merged = merge_sweep(sweep_dir, allow_partial=allow_partial, manifest_hash=manifest_hash)
    if merged.dataset is None:
        raise MergeError(f"{sweep_dir}: no valid shard file to aggregate; " + "; ".join(merged.problems()))
    curves = compute_curves(merged.dataset, confidence=confidence, interval=interval)  # type: ignore[arg-type]
    if not merged.ok:
        curves.attrs["partial"] = "yes: " + " | ".join(merged.problems())
    out = Path(out_dir) if out_dir is not None else sweep_dir / OUTPUT_DIRNAME
    summary = format_summary(curves)
    if not merged.ok:
        summary = "PARTIAL RESULT:\n" + "\n".join(f"  {line}" for line in merged.problems()) + "\n" + summary
    paths = {
        "curves": _write_curves(out / CURVES_NAME, curves),
        "summary_csv": _write_csv(out / "summary.csv", summary_rows(curves)),
        "summary_txt": atomic_write_text(out / "summary.txt", summary),
        "merge_report": atomic_write_text(out / "merge_report.txt", merged.report()),
    }
    if figures:
        paths.update(_figure_paths(curves, out, formats))
    return AggregateResult(merged, curves, paths, summary)


def write_outputs(
    sweep_dir: str | Path,
    *,
    allow_partial: bool = False,
    manifest_hash: str | None = None,
    out_dir: str | Path | None = None,
    figures: bool = True,
    formats: Sequence[str] = ("png", "pdf"),
) -> dict[str, Path]:
    """`aggregate_sweep` returning only {"curves", "summary_csv", "summary_txt", "merge_report",
    "repair_probability_png", "repair_probability_pdf", "errors_png", "errors_pdf"} -> path."""
    return aggregate_sweep(sweep_dir, allow_partial=allow_partial, manifest_hash=manifest_hash,
                           out_dir=out_dir, figures=figures, formats=formats).paths


def _figure_paths(curves: xr.Dataset, out: Path, formats: Sequence[str]) -> dict[str, Path]:
    from aggregate.plots import plot_all  # matplotlib only when figures are asked for

    return {f"{stem}_{p.suffix[1:]}": p for stem, ps in plot_all(curves, out, formats).items() for p in ps}


def load_curves(path: str | Path) -> xr.Dataset:
    """Load a ``curves.nc`` written by `aggregate_sweep` (into memory; the file is closed)."""
    path = Path(path)
    if not path.is_file():
        raise DataFileError(path, "no curves file; run `mrsweep aggregate` first")
    try:
        with xr.open_dataset(path, engine="netcdf4") as ds:
            return ds.load()
    except Exception as err:
        raise DataFileError(path, f"unreadable curves file ({err}); re-run `mrsweep aggregate`") from err


def plot_sweep(
    sweep_dir: str | Path, *, out_dir: str | Path | None = None, formats: Sequence[str] = ("png", "pdf")
) -> dict[str, Path]:
    """Redraw the figures from ``<sweep_dir>/aggregate/curves.nc`` (for `mrsweep plot`)."""
    out = Path(out_dir) if out_dir is not None else Path(sweep_dir) / OUTPUT_DIRNAME
    curves = load_curves(Path(sweep_dir) / OUTPUT_DIRNAME / CURVES_NAME)
    return _figure_paths(curves, out, formats)


def stale_inputs(sweep_dir: str | Path) -> list[str]:
    """Shard files changed (or removed) after ``aggregate/curves.nc`` was written.

    Empty when the curves are current; ``["curves.nc"]`` when there are no curves yet.
    """
    curves = Path(sweep_dir) / OUTPUT_DIRNAME / CURVES_NAME
    if not curves.is_file():
        return [CURVES_NAME]
    t = curves.stat().st_mtime_ns
    shards = Path(sweep_dir) / "shards"
    newer = sorted(p.name for p in shards.glob("*.nc") if p.stat().st_mtime_ns > t) if shards.is_dir() else []
    manifest = Path(sweep_dir) / "manifest.json"
    if manifest.is_file() and manifest.stat().st_mtime_ns > t:
        newer.insert(0, "manifest.json")
    return newer

