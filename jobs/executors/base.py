"""The one contract every execution backend implements (local, debug, slurm, ...).

A backend turns shard tasks into submitit jobs and can later say what state those jobs
are in, from any shell: submissions are appended to ``<sweep_dir>/jobs.jsonl``.

To add a backend, subclass `Backend`, give it ``name`` and an ``Options`` frozen dataclass
(validated from the ``[executor]`` table), implement `make_executor` and `states`, and
register it in `jobs.executors` (``BACKENDS``). Hooks a cluster backend may override:
``max_array_size`` (split big arrays), `submit` (e.g. profiles, array parallelism),
`task_function` (e.g. a `submitit.helpers.Checkpointable` task), ``poll_interval_s``.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from jobs.fsutil import append_line
from modelrepair.validation import spec_from_mapping

JOBS_FILE = "jobs.jsonl"

#: Normalised job states (Slurm's vocabulary). ACTIVE ones mean "leave the shard alone".
#: The scheduler did not answer any state query: treated as active (never judged finished,
#: never resubmitted by `resume`) until it answers again.
UNREACHABLE = "UNREACHABLE"
ACTIVE_STATES = frozenset({"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", UNREACHABLE})
FINAL_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "INTERRUPTED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "UNKNOWN"})


@dataclass(frozen=True)
class Task:
    """Run shard ``shard_id`` of the sweep in ``sweep_dir``."""

    sweep_dir: str
    shard_id: str


@dataclass(frozen=True)
class SubmittedJob:
    """One line of jobs.jsonl: which job runs which shard, where its logs are."""

    shard_id: str
    backend: str
    job_id: str
    folder: str
    time: str
    manifest_hash: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_jobs(sweep_dir: str | Path) -> list[SubmittedJob]:
    """All submissions recorded for a sweep, oldest first (bad lines are skipped)."""
    path = Path(sweep_dir) / JOBS_FILE
    if not path.is_file():
        return []
    out = []
    names = {f.name for f in dataclasses.fields(SubmittedJob)}
    for line in path.read_text().splitlines():
        try:
            d = json.loads(line)
            out.append(SubmittedJob(**{k: str(v) for k, v in d.items() if k in names}))
        except (ValueError, TypeError):
            continue
    return out


def latest_jobs(sweep_dir: str | Path, manifest_hash: str | None = None) -> dict[str, SubmittedJob]:
    """The most recent submission per shard (optionally only those for one manifest)."""
    latest: dict[str, SubmittedJob] = {}
    for job in read_jobs(sweep_dir):
        if manifest_hash is None or job.manifest_hash == manifest_hash:
            latest[job.shard_id] = job
    return latest


def record_jobs(sweep_dir: str | Path, jobs: Iterable[SubmittedJob]) -> None:
    for job in jobs:
        append_line(Path(sweep_dir) / JOBS_FILE, job.to_json())


def run_shard_task(sweep_dir: str, shard_id: str) -> str:
    """Module-level entry point pickled into every job: run one shard, return its file."""
    from jobs.shard import ShardTask

    return ShardTask()(sweep_dir, shard_id)


def log_paths(job: SubmittedJob) -> tuple[Path, Path]:
    """(stdout, stderr) log files submitit writes for task 0 of ``job``."""
    from submitit.core.utils import JobPaths

    paths = JobPaths(job.folder, job.job_id, 0)
    return paths.stdout, paths.stderr


def chunked(items: Sequence[Any], size: int | None) -> list[Sequence[Any]]:
    if not size or size >= len(items):
        return [items] if items else []
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class NoOptions:
    """A backend without options."""


class Backend(ABC):
    """Submit shard tasks through submitit and report job states in batches."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    #: Largest array one submission may hold (None: unlimited). Slurm: MaxArraySize - 1.
    max_array_size: int | None = None
    #: Seconds between two `states` queries while waiting.
    poll_interval_s: float = 1.0

    def __init__(self, options: Any = None) -> None:
        self.options = options if options is not None else self.Options()

    @classmethod
    def validate_options(cls, options: Mapping[str, Any], where: str = "executor") -> Any:
        """Build the Options dataclass from the ``[executor]`` table (minus ``backend``)."""
        return spec_from_mapping(cls.Options, options, where)

    @classmethod
    def from_config(cls, options: Mapping[str, Any] | None = None) -> Backend:
        return cls(cls.validate_options(options or {}))

    @abstractmethod
    def make_executor(self, folder: Path) -> Any:
        """A configured submitit executor writing its logs and pickles to ``folder``."""

    def task_function(self) -> Callable[[str, str], str]:
        """The callable each job runs with (sweep_dir, shard_id)."""
        return run_shard_task

    def max_concurrent(self) -> int | None:
        """How many tasks the driver may have in flight (None: submit everything now)."""
        return None

    def submit(self, tasks: Sequence[Task], folder: Path) -> list[SubmittedJob]:
        """Submit ``tasks`` as job arrays of at most ``max_array_size`` tasks each."""
        executor = self.make_executor(Path(folder))
        fn = self.task_function()
        out: list[SubmittedJob] = []
        for chunk in chunked(list(tasks), self.max_array_size):
            jobs = executor.map_array(fn, [t.sweep_dir for t in chunk], [t.shard_id for t in chunk])
            stamp = now_iso()
            for task, job in zip(chunk, jobs, strict=True):
                self._remember(job)
                out.append(SubmittedJob(task.shard_id, self.name, str(job.job_id), str(folder), stamp))
        return out

    def submit_and_record(self, tasks: Sequence[Task], folder: Path, sweep_dir: Path, manifest_hash: str) -> list[SubmittedJob]:
        """`submit`, then append each submission to ``<sweep_dir>/jobs.jsonl``."""
        jobs = [dataclasses.replace(j, manifest_hash=manifest_hash) for j in self.submit(tasks, folder)]
        record_jobs(sweep_dir, jobs)
        return jobs

    def _remember(self, job: Any) -> None:
        """Keep the live submitit job object (backends that can poll it in-process)."""
        return None

    @abstractmethod
    def states(self, jobs: Sequence[SubmittedJob]) -> dict[str, str]:
        """Normalised state per job_id for many jobs in one query (see ACTIVE/FINAL_STATES)."""

    def cancel(self, jobs: Sequence[SubmittedJob]) -> None:
        """Best-effort cancellation (default: nothing)."""
        return None
