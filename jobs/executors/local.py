"""``local``: submitit's LocalExecutor, one process per shard, ``workers`` at a time."""

from __future__ import annotations

import os
import pickle
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs.executors.base import Backend, SubmittedJob
from modelrepair.validation import require


@dataclass(frozen=True)
class LocalOptions:
    """``[executor]`` keys for ``backend = "local"``."""

    workers: int = 2
    threads_per_worker: int = 1
    timeout_min: float = 24 * 60.0

    def __post_init__(self) -> None:
        require(self.workers > 0, "workers", f"must be a positive integer, got {self.workers}")
        require(self.threads_per_worker > 0, "threads_per_worker", f"must be a positive integer, got {self.threads_per_worker}")
        require(self.timeout_min > 0, "timeout_min", f"must be > 0, got {self.timeout_min}")


def _pid_alive(pid: int) -> bool:
    """True if ``pid`` runs (not a zombie) and looks like a submitit controller."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state != "Z" and b"submitit" in cmdline


def result_state(job: SubmittedJob) -> str:
    """COMPLETED / FAILED from submitit's result pickle, INTERRUPTED when there is none."""
    from submitit.core.utils import JobPaths

    path = JobPaths(job.folder, job.job_id, 0).result_pickle
    try:
        with path.open("rb") as fh:
            outcome = pickle.load(fh)[0]
    except (OSError, EOFError, pickle.UnpicklingError, IndexError, TypeError, AttributeError, ModuleNotFoundError):
        return "INTERRUPTED"
    return "COMPLETED" if outcome == "success" else "FAILED"


class LocalBackend(Backend):
    """Parallel local processes; the driver keeps at most ``workers`` in flight."""

    name = "local"
    Options = LocalOptions
    poll_interval_s = 0.5

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._live: dict[str, Any] = {}

    def max_concurrent(self) -> int | None:
        return self.options.workers

    def make_executor(self, folder: Path) -> Any:
        import submitit

        executor = submitit.LocalExecutor(folder=folder)
        t = self.options.threads_per_worker
        exports = [f"export {v}={t}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]
        # submitit's controller process inherits our terminal; on Ctrl-C (or `cancel`) it dies
        # with a KeyboardInterrupt traceback. Its stderr goes to a file in the log folder
        # instead (the tasks' own output goes to their log pairs, as before).
        folder.mkdir(parents=True, exist_ok=True)
        quiet = f"exec 2>>{shlex.quote(str(Path(folder).absolute() / 'controller.err'))}"
        executor.update_parameters(timeout_min=self.options.timeout_min, setup=[*exports, quiet])
        return executor

    def _remember(self, job: Any) -> None:
        self._live[str(job.job_id)] = job

    def states(self, jobs: Sequence[SubmittedJob]) -> dict[str, str]:
        out: dict[str, str] = {}
        for job in jobs:
            live = self._live.get(job.job_id)
            if live is not None and live._process is not None:
                poll = live._process.poll()
                if poll is None:
                    out[job.job_id] = "RUNNING"
                    continue
            elif job.job_id.isdigit() and _pid_alive(int(job.job_id)):
                out[job.job_id] = "RUNNING"
                continue
            out[job.job_id] = result_state(job)
        return out

    def cancel(self, jobs: Sequence[SubmittedJob]) -> None:
        for job in jobs:
            live = self._live.get(job.job_id)
            if live is not None:
                live.cancel(check=False)
