"""Aggregate a sweep's shard files into repair curves, a CSV summary and figures.

Reads netCDF files only (never imports jobs). Outputs go to ``<sweep_dir>/aggregate/``:
``curves.nc``, ``summary.csv``, ``summary.txt``, ``merge_report.txt``,
``repair_probability.{png,pdf}``, ``errors.{png,pdf}``; each written atomically.

Import from the submodules (``aggregate.outputs``, ``aggregate.merge``, ...) in code that may
run under pytest: a ``tests/aggregate`` folder on ``sys.path`` can shadow this package's
``__init__`` as a namespace package, while submodules still resolve.
"""

from __future__ import annotations

from aggregate.curves import (
    clopper_pearson_interval,
    compute_curves,
    eps_at_probability,
    format_summary,
    wilson_interval,
)
from aggregate.merge import MergeError, MergeResult, merge_files, merge_sweep
from aggregate.outputs import (
    AggregateResult,
    aggregate_sweep,
    load_curves,
    plot_sweep,
    write_outputs,
)
from aggregate.schema import ShardCheck, validate_shard

__all__ = [
    "AggregateResult", "MergeError", "MergeResult", "ShardCheck", "aggregate_sweep",
    "clopper_pearson_interval", "compute_curves", "eps_at_probability", "format_summary",
    "load_curves", "merge_files", "merge_sweep", "plot_sweep", "validate_shard",
    "wilson_interval", "write_outputs",
]
