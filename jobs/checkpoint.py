"""The checkpointable shard task the Slurm backend submits.

`SlurmShardTask` is `jobs.shard.ShardTask` marked `submitit.helpers.Checkpointable`.
On timeout or preemption submitit catches ``USR2`` and calls ``checkpoint``: the cells
finished so far go atomically to ``<sweep_dir>/partial/<shard_id>.nc``, the job is
requeued (at most ``max_num_timeout`` times) and the new run adopts that file, so no
finished cell is computed again and the final shard file equals an uninterrupted run's.

Every cell finished in this process is logged to stdout (the array task's ``.out`` log):
``[mrsweep] shard-00003 cell 41 computed (ok)``; a resumed run logs how many cells it took
from the checkpoint. ``cell_delay_s`` (default 0; for tests and demos of checkpointing
only) sleeps that long before a computed cell is recorded, to make cells slow.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import submitit

from jobs.fsutil import fsync_dir
from jobs.shard import ShardRunner, ShardTask
from jobs.shard_io import partial_path, write_dataset
from modelrepair.outcome import CellOutcome

CELL_LOG = "[mrsweep] {shard} cell {cell} computed ({status})"


class _LoggedCells(dict):
    """``finished`` dict of a runner: logs (and optionally delays) each newly computed cell.

    ``ShardRunner`` stores each computed cell with ``finished[id] = outcome`` and adopts
    a checkpoint with ``update`` (not logged: those cells were computed by an earlier run).
    """

    def __init__(self, shard_id: str, delay_s: float) -> None:
        super().__init__()
        self.shard_id = shard_id
        self.delay_s = delay_s

    def __setitem__(self, cell_id: int, outcome: CellOutcome) -> None:
        if self.delay_s > 0:
            time.sleep(self.delay_s)
        super().__setitem__(cell_id, outcome)
        print(CELL_LOG.format(shard=self.shard_id, cell=cell_id, status=outcome.status), flush=True)


def save_checkpoint(runner: ShardRunner) -> Path | None:
    """``runner.save_partial()``, safe inside a signal handler.

    The handler may interrupt the runner's own periodic ``save_partial`` (same temporary
    file name) or the final shard write; so write under another name, then rename it onto
    ``partial/<shard_id>.nc`` (the interrupted write never completes: the job exits).
    """
    cells = [c for c in runner.cells if c.cell_id in runner.finished]
    if not cells:
        return None
    final = partial_path(runner.sweep_dir, runner.shard.shard_id)
    staged = write_dataset(runner._dataset(cells), final.with_name(final.name + ".ckpt"))
    os.replace(staged, final)
    fsync_dir(final.parent)
    return final


class SlurmShardTask(ShardTask, submitit.helpers.Checkpointable):
    """``SlurmShardTask(cell_delay_s)(sweep_dir, shard_id) -> path of the shard file``."""

    def __init__(self, cell_delay_s: float = 0.0) -> None:
        super().__init__()
        self.cell_delay_s = float(cell_delay_s)

    def __call__(self, sweep_dir: str, shard_id: str) -> str:
        runner = ShardRunner(sweep_dir, shard_id)
        runner.finished = _LoggedCells(shard_id, self.cell_delay_s)
        self.runner = runner
        n = runner.load_partial()
        if n:
            print(f"[mrsweep] {shard_id}: resumed {n} cell(s) from the checkpoint", flush=True)
        path = runner.run()
        print(f"[mrsweep] {shard_id}: wrote {path}", flush=True)
        return str(path)

    def checkpoint(self, sweep_dir: str, shard_id: str) -> Any:
        """On USR2 (timeout/preemption): save finished cells, requeue a fresh task."""
        saved = save_checkpoint(self.runner) if self.runner is not None else None
        n = len(self.runner.finished) if self.runner is not None else 0
        print(f"[mrsweep] {shard_id}: checkpoint, {n} cell(s) saved to {saved}", flush=True)
        return submitit.helpers.DelayedSubmission(type(self)(self.cell_delay_s), sweep_dir, shard_id)

    def __getstate__(self) -> dict[str, Any]:
        return {"runner": None, "cell_delay_s": self.cell_delay_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.runner = None
        self.cell_delay_s = float(state.get("cell_delay_s", 0.0))
