"""Sweep status: each shard is done, running, failed, missing or stale.

- done: the shard file passes the SCHEMA.md "done" rule;
- running: not done and its latest job (this manifest) is pending/running;
- failed: not done and its latest job (this manifest) ended;
- stale: a file is there but is corrupt, from another manifest, or has other cells;
- missing: no file and no job for this manifest.
`resume` runs failed, stale and missing shards (everything not running with ``force``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from jobs.executors import Backend, SubmittedJob, backend_class, latest_jobs
from jobs.executors.base import ACTIVE_STATES, UNREACHABLE, log_paths
from jobs.manifest import Manifest, load_manifest
from jobs.shard_io import check_shard_file, partial_path, shard_path

STATES = ("done", "running", "failed", "stale", "missing")
RESUMABLE = frozenset({"failed", "stale", "missing"})


@dataclass(frozen=True)
class ShardStatus:
    shard_id: str
    model: str
    state: str
    reason: str = ""
    job: SubmittedJob | None = None
    job_state: str = ""
    log_tail: tuple[str, ...] = ()
    bad_cells: tuple[tuple[str, int], ...] = ()  # done shards: cells with status solver_failed / error


@dataclass(frozen=True)
class SweepStatus:
    sweep_dir: Path
    manifest: Manifest
    shards: tuple[ShardStatus, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def by_model(self) -> dict[str, Counter]:
        out: dict[str, Counter] = {m.name: Counter() for m in self.manifest.models}
        for s in self.shards:
            out[s.model][s.state] += 1
        return out

    def ids(self, *states: str) -> list[str]:
        return [s.shard_id for s in self.shards if s.state in states]

    def to_resume(self, force: bool = False) -> list[str]:
        """Shards `resume` would run: failed/stale/missing, or all but running with ``force``."""
        if force:
            return [s.shard_id for s in self.shards if s.state != "running"]
        return [s.shard_id for s in self.shards if s.state in RESUMABLE]

    @property
    def all_done(self) -> bool:
        return all(s.state == "done" for s in self.shards)


def tail(path: Path, lines: int = 5) -> tuple[str, ...]:
    """Last non-empty lines of a text file (empty if unreadable).

    The scheduler's verdict (slurmstepd's last ``*** JOB ... CANCELLED/DUE TO TIME LIMIT ***``
    line) is always kept, as the first line, even when later lines (srun's kill messages)
    push it out of the last ``lines``.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            text = fh.read().decode(errors="replace")
    except OSError:
        return ()
    kept = [line for line in text.splitlines() if line.strip()]
    last = kept[-lines:]
    verdicts = [line for line in kept if _VERDICT.search(line)]
    if verdicts and verdicts[-1] not in last:
        last = [verdicts[-1], *last[1:]]
    return tuple(last)


_VERDICT = re.compile(r"\*\*\* (JOB|STEP) \S+ ON \S+ .*\*\*\*")


def job_states(jobs: list[SubmittedJob], manifest: Manifest, backends: Mapping[str, Backend] | None) -> dict[str, str]:
    """States of ``jobs`` with one `Backend.states` query per backend."""
    by_backend: dict[str, list[SubmittedJob]] = {}
    for job in jobs:
        by_backend.setdefault(job.backend, []).append(job)
    out: dict[str, str] = {}
    for name, group in by_backend.items():
        backend = (backends or {}).get(name)
        if backend is None:
            try:
                cls = backend_class(name)
                opts = {k: v for k, v in manifest.executor.items() if k != "backend"}
                backend = cls.from_config(opts if manifest.executor.get("backend") == name else {})
            except Exception:  # noqa: BLE001 - an unavailable backend means unknown states
                out.update({j.job_id: UNREACHABLE for j in group})
                continue
        try:
            out.update(backend.states(group))
        except Exception:  # noqa: BLE001 - e.g. the scheduler is unreachable from this shell
            out.update({j.job_id: UNREACHABLE for j in group})
    return out


def sweep_status(
    sweep_dir: str | Path,
    manifest: Manifest | None = None,
    backends: Mapping[str, Backend] | None = None,
    with_logs: bool = True,
) -> SweepStatus:
    """Check every shard file and the latest job of each unfinished shard."""
    sweep_dir = Path(sweep_dir)
    manifest = manifest or load_manifest(sweep_dir)
    checks = {
        s.shard_id: check_shard_file(shard_path(sweep_dir, s.shard_id), manifest.hash, s.shard_id, range(s.cell_start, s.cell_stop))
        for s in manifest.shards
    }
    latest = latest_jobs(sweep_dir, manifest.hash)
    pending_jobs = [latest[sid] for sid, c in checks.items() if not c.done and sid in latest]
    states = job_states(pending_jobs, manifest, backends) if pending_jobs else {}
    out = []
    for s in manifest.shards:
        check = checks[s.shard_id]
        job = latest.get(s.shard_id)
        jstate = states.get(job.job_id, "") if job and not check.done else ""
        logs: tuple[str, ...] = ()
        if check.done:
            state, reason = "done", ""
        elif job is not None and jstate == UNREACHABLE:
            state, reason = "running", (f"job {job.job_id}: state unknown, the scheduler did not answer from this "
                                        "shell (not resubmitted; `resume --force` would)")
        elif job is not None and jstate in ACTIVE_STATES:
            state, reason = "running", f"job {job.job_id} {jstate.lower()}"
        elif check.state != "missing":
            state, reason = "stale", f"{check.state}: {check.reason}"
        elif job is not None:
            state, reason = "failed", f"job {job.job_id} ({job.backend}) ended {jstate} without a valid shard file"
            if with_logs:
                logs = tail(log_paths(job)[1])
                if logs and logs[-1].strip() == "KeyboardInterrupt":  # Ctrl-C: the stack is noise
                    reason, logs = f"job {job.job_id} ({job.backend}) was interrupted (Ctrl-C) before its shard file", ()
        else:
            state, reason = "missing", ""
        if state in RESUMABLE and partial_path(sweep_dir, s.shard_id).is_file():
            reason = (reason + "; " if reason else "") + "partial checkpoint present"
        out.append(ShardStatus(s.shard_id, s.model, state, reason, job, jstate, logs, check.bad_cells))
    notes = []
    extra = sorted(p.name for p in (sweep_dir / "shards").glob("*.nc") if p.stem not in checks) if (sweep_dir / "shards").is_dir() else []
    if extra:
        notes.append(f"files in shards/ that belong to no shard of this manifest: {', '.join(extra[:5])}")
    return SweepStatus(sweep_dir, manifest, tuple(out), tuple(notes))


def format_status(st: SweepStatus, verbose: bool = False) -> str:
    """Human-readable report: counts per model, problem shards, what resume would run."""
    m = st.manifest
    lines = [f"sweep {m.sweep_name!r} in {st.sweep_dir}  (manifest {m.hash[:12]}, {m.grid.n_cells} cells, {len(m.shards)} shards)"]
    width = max(len(n) for n in [*st.by_model(), "model"])
    lines.append(f"  {'model':<{width}}  " + "  ".join(f"{s:>7}" for s in STATES))
    for name, counts in st.by_model().items():
        lines.append(f"  {name:<{width}}  " + "  ".join(f"{counts.get(s, 0):>7}" for s in STATES))
    problems = [s for s in st.shards if s.state in ("failed", "stale") or (verbose and s.state != "done")]
    for s in problems:
        lines.append(f"  {s.state:>7} {s.shard_id} ({s.model}): {s.reason}")
        lines += [f"          | {line}" for line in s.log_tail]
    bad: dict[str, Counter] = {}
    for s in st.shards:
        for what, n in s.bad_cells:
            bad.setdefault(s.model, Counter())[what] += n
    for model, counts in bad.items():
        what = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
        lines.append(f"  note: model {model}: {what} cell(s) in finished shards (deterministic: resume does not "
                     "redo them; `mrsweep aggregate` counts them and the shard files' `message` says why)")
    lines += [f"  note: {n}" for n in st.notes]
    lines += [f"  note: {n}" for n in diagnosis_notes(m.diagnosis)]
    todo = st.to_resume()
    running = st.ids("running")
    if running:
        by_state = Counter(s.job_state.lower() for s in st.shards if s.state == "running")
        split = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items(), key=lambda kv: -kv[1]))
        lines.append(f"running: {len(running)} shard(s)" + (f" ({split})" if len(by_state) > 1 else ""))
    if todo:
        lines.append(f"resume would run {len(todo)} shard(s): {_short(todo)}")
    elif st.all_done:
        lines.append("all shards done")
    return "\n".join(lines)


def _short(ids: list[str], limit: int = 6) -> str:
    return ", ".join(ids[:limit]) + (f", ... (+{len(ids) - limit})" if len(ids) > limit else "")


def diagnosis_notes(diagnosis: Mapping[str, dict]) -> list[str]:
    """One line per model diagnosed as not exactly repairable (plan-time diagnosis)."""
    out = []
    for name, d in diagnosis.items():
        if not d.get("exactly_repairable", True):
            layers = "; ".join(f"{x.get('name')}: {x.get('verdict')}" for x in d.get("layers", []))
            out.append(f"model {name!r} is not exactly repairable by its diagnosis ({layers}); it still runs")
    return out
