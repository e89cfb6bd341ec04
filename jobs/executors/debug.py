"""``debug``: submitit's DebugExecutor, every shard in this process, one after another."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jobs.executors.base import Backend, SubmittedJob


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

    def _remember(self, job: Any) -> None:
        job_id = str(job.job_id)
        try:
            job.result()
            self._states[job_id] = "COMPLETED"
        except Exception as err:  # noqa: BLE001 - a failed shard is a state, not a crash
            self._states[job_id] = "FAILED"
            self.errors[job_id] = f"{type(err).__name__}: {err}"

    def states(self, jobs: Sequence[SubmittedJob]) -> dict[str, str]:
        return {j.job_id: self._states.get(j.job_id, "UNKNOWN") for j in jobs}
