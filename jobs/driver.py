"""Submit shards through a backend and wait for them with a progress bar.

Keeps at most ``backend.max_concurrent()`` tasks in flight (all at once when None: the
scheduler throttles, e.g. Slurm's array parallelism), polls job states in one query per
``backend.poll_interval_s`` and judges each finished job by its shard file alone.
"""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from jobs.executors import Backend, SubmittedJob, Task
from jobs.executors.base import ACTIVE_STATES, UNREACHABLE
from jobs.manifest import Manifest
from jobs.shard_io import check_shard_file, shard_path

#: stop waiting (not the jobs) when the scheduler has answered no state query for this long
UNREACHABLE_GIVE_UP_S = 1800.0


@dataclass(frozen=True)
class RunReport:
    submitted: tuple[str, ...]
    done: tuple[str, ...]
    failed: tuple[str, ...]
    still_running: tuple[str, ...] = ()
    seconds: float = 0.0


def log_folder(sweep_dir: Path, backend: Backend) -> Path:
    """A fresh submitit folder per run: ``<sweep_dir>/logs/<backend>-<UTC time>-<pid>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return Path(sweep_dir) / "logs" / f"{backend.name}-{stamp}-{os.getpid()}"


def shard_done(sweep_dir: Path, manifest: Manifest, shard_id: str) -> bool:
    s = manifest.shard(shard_id)
    return check_shard_file(shard_path(sweep_dir, shard_id), manifest.hash, shard_id, range(s.cell_start, s.cell_stop)).done


def execute(
    sweep_dir: Path,
    manifest: Manifest,
    backend: Backend,
    shard_ids: list[str],
    *,
    wait: bool = True,
    progress: bool = True,
) -> RunReport:
    """Run ``shard_ids``; with ``wait`` return when every one has finished or failed."""
    t0 = time.monotonic()
    sweep_dir = Path(sweep_dir)
    folder = log_folder(sweep_dir, backend)
    pending = deque(shard_ids)
    limit = backend.max_concurrent() or len(pending) or 1
    if not wait:
        limit = len(pending) or 1
    inflight: dict[str, SubmittedJob] = {}
    done: list[str] = []
    failed: list[str] = []
    submitted: list[str] = []
    from tqdm import tqdm

    bar = tqdm(total=len(shard_ids), unit="shard", desc=manifest.sweep_name, disable=not (progress and wait),
               file=sys.stderr)
    silent_since: float | None = None
    try:
        while pending or inflight:
            free = limit - len(inflight)
            if free > 0 and pending:
                batch = [pending.popleft() for _ in range(min(free, len(pending)))]
                jobs = backend.submit_and_record([Task(str(sweep_dir), sid) for sid in batch], folder, sweep_dir, manifest.hash)
                submitted += batch
                inflight.update({j.job_id: j for j in jobs})
            if not wait:
                break
            states = backend.states(list(inflight.values())) if inflight else {}
            if states and all(s == UNREACHABLE for s in states.values()):
                silent_since = silent_since if silent_since is not None else time.monotonic()
                if time.monotonic() - silent_since >= UNREACHABLE_GIVE_UP_S:
                    print(f"the scheduler has not answered for {UNREACHABLE_GIVE_UP_S / 60:.0f} min; stopped "
                          f"waiting (the jobs may still run): see `mrsweep status {sweep_dir}` later", file=sys.stderr)
                    break
            else:
                silent_since = None
            for job_id, state in states.items():
                if state in ACTIVE_STATES:
                    continue
                job = inflight.pop(job_id)
                (done if shard_done(sweep_dir, manifest, job.shard_id) else failed).append(job.shard_id)
                bar.update(1)
                bar.set_postfix(failed=len(failed)) if failed else None
            if inflight and (not pending or len(inflight) >= limit):
                time.sleep(backend.poll_interval_s)
    except KeyboardInterrupt:
        backend.cancel(list(inflight.values()))
        raise
    finally:
        bar.close()
    running = tuple(j.shard_id for j in inflight.values())
    return RunReport(tuple(submitted), tuple(done), tuple(failed), running, time.monotonic() - t0)
