"""``debug``: submitit's DebugExecutor, every shard in this process, one after another."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jobs.executors.base import Backend, SubmittedJob, run_shard_task


def run_shard_task_debug(sweep_dir: str, shard_id: str) -> str:
    """Like run_shard_task, but a failure is printed and returned, never raised: submitit's
    DebugExecutor would open pdb on an exception. The driver judges the shard by its file."""
    try:
        return run_shard_task(sweep_dir, shard_id)
    except Exception as err:  # noqa: BLE001
        traceback.print_exc()
        return f"FAILED: {type(err).__name__}: {err}"


class DebugBackend(Backend):
    """Runs each submitted shard immediately in-process (pdb-friendly, no parallelism)."""

    name = "debug"
    poll_interval_s = 0.0

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._states: dict[str, str] = {}
        self.errors: dict[str, str] = {}

    def max_concurrent(self) -> int | None:
        return 1

    def make_executor(self, folder: Path) -> Any:
        import submitit

        return submitit.DebugExecutor(folder=folder)

    def task_function(self) -> Callable[[str, str], str]:
        return run_shard_task_debug

    def _remember(self, job: Any) -> None:
        job_id = str(job.job_id)
        result = str(job.result())
        self._states[job_id] = "FAILED" if result.startswith("FAILED: ") else "COMPLETED"
        if result.startswith("FAILED: "):
            self.errors[job_id] = result[8:]

    def states(self, jobs: Sequence[SubmittedJob]) -> dict[str, str]:
        return {j.job_id: self._states.get(j.job_id, "UNKNOWN") for j in jobs}
