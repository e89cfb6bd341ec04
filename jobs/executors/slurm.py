"""``slurm``: shards as Slurm job arrays through submitit's SlurmExecutor.

- Settings come from a validated profile (`jobs.profiles`, ``[executor] profile = "local"``)
  plus per-sweep overrides of any profile field in the ``[executor]`` table.
- Arrays are split so that no array is longer than the cluster's MaxArraySize (read once
  from ``scontrol show config``; the profile's ``max_array_size`` overrides it): array
  indices stay below it. ``array_parallelism`` caps the running tasks of the sweep (split
  arrays are chained with ``afterany`` dependencies so the cap holds across them).
- Each array task runs one shard (many cells) as a checkpointable task
  (`jobs.checkpoint.SlurmShardTask`); submitit writes one log pair per array task
  (``<A>_<a>_0_log.out/.err``) in the run's log folder.
- `states` asks the scheduler ONE ``sacct`` call for all the jobs of a sweep (job ids from
  ``jobs.jsonl``, so it works from any shell); only ids sacct does not know yet (just
  submitted, or no accounting) are looked up with one ``squeue`` call.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from jobs.executors.base import (
    UNREACHABLE,
    Backend,
    SubmittedJob,
    Task,
    chunked,
    now_iso,
    record_jobs,
)
from jobs.profiles import SlurmProfile, find_profile, load_profile, profile_from_mapping
from modelrepair.errors import SpecError, UserError

DEFAULT_MAX_ARRAY_SIZE = 1001  # Slurm's default MaxArraySize
_ARRAY_RANGE = re.compile(r"^(?P<main>\d+)_\[(?P<ranges>[0-9,\-]+)(%\d+)?\]$")
_JOB_ID = re.compile(r"^\d+(_\d+)?$")
# Slurm states that mean "will still run" but are not in base.ACTIVE_STATES, and aliases
_STATE_ALIASES = {
    "REQUEUE_HOLD": "REQUEUED", "REQUEUE_FED": "REQUEUED", "RESV_DEL_HOLD": "PENDING",
    "SIGNALING": "RUNNING", "STAGE_OUT": "COMPLETING", "RESIZING": "RUNNING", "STOPPED": "SUSPENDED",
    "BOOT_FAIL": "NODE_FAIL", "DEADLINE": "TIMEOUT", "SPECIAL_EXIT": "FAILED", "REVOKED": "CANCELLED",
}


class SlurmError(UserError):
    """Slurm is not reachable or refused a request."""


@dataclass(frozen=True)
class SlurmOptions:
    """``[executor]`` keys for ``backend = "slurm"``.

    profile: a profile name (slurm_templates/profiles/<name>.toml) or a .toml path;
    overrides: profile fields given directly in ``[executor]`` (e.g. ``time = 30``);
    cell_delay_s: testing/demo only - sleep this long per cell (to exercise checkpoints).
    """

    profile: str = "local"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    cell_delay_s: float = 0.0


def normalize_state(raw: str) -> str:
    """``CANCELLED by 0`` -> ``CANCELLED``; Slurm's rarer states -> the base vocabulary."""
    word = raw.strip().split(" ")[0].rstrip("+").upper() if raw.strip() else "UNKNOWN"
    return _STATE_ALIASES.get(word, word)


def expand_job_ids(job_id: str) -> list[str]:
    """``12_[3-5,8%2]`` -> [12_3, 12_4, 12_5, 12_8]; ``12_3`` / ``12`` unchanged."""
    m = _ARRAY_RANGE.match(job_id)
    if m is None:
        return [job_id]
    out = []
    for part in m["ranges"].split(","):
        lo, _, hi = part.partition("-")
        out += [f"{m['main']}_{i}" for i in range(int(lo), int(hi or lo) + 1)]
    return out


def parse_states(text: str) -> dict[str, str]:
    """``JobID|State`` lines (sacct -P / squeue -o %i|%T) -> normalised state per job id."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2 or not parts[0] or "." in parts[0]:
            continue
        for jid in expand_job_ids(parts[0]):
            out[jid] = normalize_state(parts[1])
    return out


def parse_scontrol_jobs(text: str) -> dict[str, str]:
    """``scontrol -o show job`` lines -> state per job id (``<array>_<task>`` for arrays).

    slurmctld keeps ended jobs for MinJobAge (300 s by default), so this answers for jobs
    that have just ended but that slurmdbd has not recorded yet (sacct lags behind).
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        fields = dict(tok.split("=", 1) for tok in line.split() if "=" in tok)
        state = fields.get("JobState")
        if not state:
            continue
        array, task = fields.get("ArrayJobId"), fields.get("ArrayTaskId")
        ids = expand_job_ids(f"{array}_[{task}]" if array and task and not task.isdigit()
                             else f"{array}_{task}" if array and task else fields.get("JobId", ""))
        for jid in ids:
            out[jid] = normalize_state(state)
    return out


def _run(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def cluster_max_array_size() -> int | None:
    """MaxArraySize from ``scontrol show config`` (None when scontrol is unavailable)."""
    if shutil.which("scontrol") is None:
        return None
    try:
        out = _run(["scontrol", "show", "config"], timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"^MaxArraySize\s*=\s*(\d+)", out, re.MULTILINE)
    return int(m.group(1)) if m else None


class SlurmBackend(Backend):
    """Job arrays on a Slurm cluster; one scheduler query per refresh for the whole sweep."""

    name = "slurm"
    Options = SlurmOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.profile: SlurmProfile = load_profile(self.options.profile, self.options.overrides)
        self.poll_interval_s = self.profile.poll_interval_s
        self.scheduler_calls = 0  # how many sacct/squeue calls this backend made
        self.scheduler_answers = 0  # how many of them the scheduler answered (exit status 0)

    @classmethod
    def validate_options(cls, options: Mapping[str, Any], where: str = "executor") -> SlurmOptions:
        """Check the profile (found and valid) and every override before anything runs."""
        table = dict(options)
        profile = table.pop("profile", "local")
        if not isinstance(profile, str) or not profile:
            raise SpecError(f"{where}.profile", f"expected a profile name or .toml path, got {profile!r}")
        delay = table.pop("cell_delay_s", 0.0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay <= 3600:
            raise SpecError(f"{where}.cell_delay_s", f"expected seconds in [0, 3600], got {delay!r}")
        overrides = dict(table.pop("overrides", None) or {})
        overrides.update(table)  # flat keys in [executor] are profile fields
        profile_from_mapping(overrides, where)  # field names and values, with [executor] names
        load_profile(profile, overrides)  # the merged profile
        if profile.endswith(".toml") or "/" in profile:  # a path: keep it valid from any folder
            profile = str(find_profile(profile).resolve())
        return SlurmOptions(profile, dict(sorted(overrides.items())), float(delay))

    @cached_property
    def max_array_size(self) -> int:  # type: ignore[override]
        """Tasks per array: array indices 0..n-1 must stay below MaxArraySize."""
        return self.profile.max_array_size or cluster_max_array_size() or DEFAULT_MAX_ARRAY_SIZE

    def make_executor(self, folder: Path) -> Any:
        import submitit

        if shutil.which("sbatch") is None:
            raise SlurmError("sbatch not found: the slurm backend needs a Slurm cluster (see slurm_templates/README.md)")
        executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=self.profile.max_requeues)
        n = self.profile.cpus
        setup = [f"export {v}={n}" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")]
        executor.update_parameters(setup=setup, **self.profile.submitit_parameters())
        return executor

    def _arrays(self, tasks: Sequence[Task], folder: Path) -> Iterator[list[SubmittedJob]]:
        """Submit ``tasks`` as arrays of at most ``max_array_size``; yield each array's jobs.

        ``array_parallelism`` caps the whole sweep, not each array: every array runs at most
        ``p = min(array_parallelism, len)`` tasks at once, and arrays form
        ``array_parallelism // p`` chains, each array starting when the previous one of its
        chain has ended (``--dependency=afterany``).
        """
        chunks = chunked(list(tasks), self.max_array_size)
        if not chunks:
            return
        limit = self.profile.array_parallelism
        lanes: list[str | None] = [None] * max(1, limit // min(limit, max(len(c) for c in chunks)))
        fn = self.task_function()
        for k, chunk in enumerate(chunks):
            executor = self.make_executor(Path(folder))
            after = lanes[k % len(lanes)]
            if after:
                executor.update_parameters(dependency=f"afterany:{after}")
            jobs = executor.map_array(fn, [t.sweep_dir for t in chunk], [t.shard_id for t in chunk])
            lanes[k % len(lanes)] = str(jobs[0].job_id).split("_")[0]
            stamp = now_iso()
            yield [SubmittedJob(t.shard_id, self.name, str(j.job_id), str(folder), stamp)
                   for t, j in zip(chunk, jobs, strict=True)]

    def submit(self, tasks: Sequence[Task], folder: Path) -> list[SubmittedJob]:
        return [job for array in self._arrays(tasks, folder) for job in array]

    def submit_and_record(self, tasks: Sequence[Task], folder: Path, sweep_dir: Path,
                          manifest_hash: str) -> list[SubmittedJob]:
        """Submit array by array, recording each at once: a refused array never orphans
        the arrays already queued (they are in jobs.jsonl) and stops with sbatch's message."""
        from submitit.core.utils import FailedJobError, FailedSubmissionError

        n = len(chunked(list(tasks), self.max_array_size))
        done: list[SubmittedJob] = []
        arrays = self._arrays(tasks, folder)
        for k in range(n):
            try:
                array = next(arrays)
            except (FailedJobError, FailedSubmissionError, OSError) as err:
                msg = " ".join(str(err).split()) or type(err).__name__
                raise SlurmError(f"sbatch refused array {k + 1} of {n} ({len(done)} shard(s) "
                                 f"already submitted and recorded in jobs.jsonl): {msg}") from None
            array = [dataclasses.replace(j, manifest_hash=manifest_hash) for j in array]
            record_jobs(sweep_dir, array)
            done += array
        return done

    def task_function(self) -> Any:
        from jobs.checkpoint import SlurmShardTask

        return SlurmShardTask(self.options.cell_delay_s)

    def _query(self, cmd: list[str]) -> str:
        self.scheduler_calls += 1
        try:
            res = _run(cmd)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        self.scheduler_answers += res.returncode == 0
        return res.stdout if res.returncode == 0 else ""

    def states(self, jobs: Sequence[SubmittedJob]) -> dict[str, str]:
        """State of every job in ONE sacct call (plus one squeue call for ids sacct lacks)."""
        wanted = {j.job_id for j in jobs if _JOB_ID.match(j.job_id)}
        out = {j.job_id: "UNKNOWN" for j in jobs}
        if not wanted:
            return out
        mains = sorted({jid.split("_")[0] for jid in wanted}, key=int)
        found: dict[str, str] = {}
        answers_before = self.scheduler_answers
        if shutil.which("sacct"):
            found = parse_states(self._query(
                ["sacct", "-X", "-n", "-P", "-o", "JobID,State", "-S", "2000-01-01", "-j", ",".join(mains)]))
        missing = wanted - set(found)
        if missing and shutil.which("squeue"):
            ids = sorted({jid.split("_")[0] for jid in missing}, key=int)
            found.update({k: v for k, v in parse_states(self._query(
                ["squeue", "-h", "-o", "%i|%T", "-j", ",".join(ids)])).items() if k in missing})
        missing = wanted - set(found)
        if missing and shutil.which("scontrol"):  # ended a moment ago: not in sacct yet
            for main in sorted({jid.split("_")[0] for jid in missing}, key=int):
                found.update({k: v for k, v in parse_scontrol_jobs(self._query(
                    ["scontrol", "-o", "show", "job", main])).items() if k in missing})
        out.update({jid: found[jid] for jid in wanted if jid in found})
        if self.scheduler_answers == answers_before:  # no Slurm command answered (controller down or restarting,
            # timeouts, no Slurm here): nothing is known, so nothing may be judged finished
            out.update({jid: UNREACHABLE for jid in wanted})
        return out

    def cancel(self, jobs: Sequence[SubmittedJob]) -> None:
        ids = sorted({j.job_id for j in jobs if _JOB_ID.match(j.job_id)})
        if ids and shutil.which("scancel"):
            _run(["scancel", *ids])


def arrays_of(jobs: Iterable[SubmittedJob]) -> dict[str, list[str]]:
    """Array (main job id) -> shard ids, e.g. to show how a sweep was split."""
    out: dict[str, list[str]] = {}
    for job in jobs:
        out.setdefault(job.job_id.split("_")[0], []).append(job.shard_id)
    return out
