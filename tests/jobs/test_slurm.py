"""The Slurm backend against a real cluster (slurm_templates/local-cluster/up.sh; .ci/run).

Skipped with a reason when no cluster answers; with CI=true a missing cluster FAILS.
Results are compared with the local/debug backends cell by cell (every variable but
``solve_seconds``, which is a timing) and through the aggregate curves.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import xarray as xr

from jobs.cli import main
from jobs.executors import read_jobs
from jobs.executors.base import log_paths
from jobs.executors.slurm import SlurmBackend, arrays_of, cluster_max_array_size
from jobs.status import format_status, sweep_status

pytestmark = pytest.mark.slurm

WAIT_LIMIT_S = 600  # only a guard against hanging forever; never asserted on
CELL_RE = re.compile(r"\[mrsweep\] (shard-\d+) cell (\d+) computed")


def cluster_problem() -> str | None:
    """Why the Slurm tests cannot run here (None: a usable cluster with accounting)."""
    for tool in ("sinfo", "scontrol", "sbatch", "sacct", "scancel"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, check=False)
    if ping.returncode != 0 or "UP" not in ping.stdout:
        return "slurmctld does not answer `scontrol ping`"
    nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False).stdout.split()
    if not any(s.rstrip("*") in ("idle", "mixed", "allocated", "completing") for s in nodes):
        return f"no usable node (sinfo: {' '.join(nodes) or 'nothing'})"
    if subprocess.run(["sacct", "-n", "-X"], capture_output=True, check=False).returncode != 0:
        return "accounting (slurmdbd) is not available: `sacct` fails"
    return None


@pytest.fixture(scope="module")
def cluster() -> int:
    """The max array size the tests use (4, as on the CI cluster)."""
    problem = cluster_problem()
    if problem:
        msg = f"no local Slurm cluster ({problem}); start one: bash slurm_templates/local-cluster/up.sh"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and {msg}")
        pytest.skip(msg)
    return 4


def write_config(path: Path, *, trials: int, eps: list[float], cells_per_shard: int, models: int,
                 executor: dict[str, object]) -> Path:
    lines = ["[sweep]", f'name = "{path.stem}"', "seed = 7", f"trials = {trials}",
             f"cells_per_shard = {cells_per_shard}", "", "[grid]", f"epsilon = {eps}", "", "[executor]"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in executor.items()]
    for m in range(models):
        lines += ["", "[[models]]", f'name = "m{m}"', 'kind = "linear"',
                  f'design = {{ source = "gaussian", n = 8, p = {30 + 10 * m} }}']
    path.write_text("\n".join(lines) + "\n")
    return path


def slurm_options(max_array_size: int, **extra: object) -> dict[str, object]:
    opts: dict[str, object] = {"backend": "slurm", "profile": "local", "poll_interval_s": 1}
    if (cluster_max_array_size() or 10**9) > max_array_size:
        opts["max_array_size"] = max_array_size  # a bigger dev cluster: split at 4 anyway
    opts.update(extra)
    return opts


def cells(sweep_dir: Path) -> xr.Dataset:
    """All cells of a finished sweep (every shard there and valid)."""
    from aggregate.merge import merge_sweep

    merged = merge_sweep(sweep_dir)
    assert merged.ok, merged.report()
    return merged.dataset.load()


def assert_same_results(a: Path, b: Path) -> None:
    """Same cells and same aggregate curves, bit for bit, except timings."""
    from aggregate.curves import compute_curves

    ca, cb = cells(a), cells(b)
    assert ca.sizes["cell"] == cb.sizes["cell"] > 0
    assert ca.drop_vars("solve_seconds").equals(cb.drop_vars("solve_seconds")), "cell results differ"
    curves_a, curves_b = compute_curves(ca), compute_curves(cb)
    timing = [v for v in curves_a.data_vars if "seconds" in str(v)]
    assert len(curves_a.data_vars) > len(timing) > 0
    assert curves_a.drop_vars(timing).equals(curves_b.drop_vars(timing)), "aggregate curves differ"


def run_cli(*args: str) -> int:
    return main([*map(str, args), "-q"])


def wait_final(backend: SlurmBackend, sweep_dir: Path) -> dict[str, str]:
    """Poll (one sacct call per round) until every recorded job has ended."""
    deadline = time.monotonic() + WAIT_LIMIT_S
    while True:
        jobs = read_jobs(sweep_dir)
        states = backend.states(jobs)
        if all(s not in ("PENDING", "RUNNING", "REQUEUED", "COMPLETING", "CONFIGURING") for s in states.values()):
            return states
        assert time.monotonic() < deadline, f"jobs still active: {states}"
        time.sleep(1)


def max_overlap(array_ids: list[str]) -> int:
    """Most tasks of these arrays that ran at the same time (from sacct Start/End)."""
    out = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "Start,End", "-j", ",".join(array_ids)],
                         capture_output=True, text=True, check=True).stdout
    spans = [line.split("|") for line in out.splitlines() if line.count("|") == 1]
    return max(sum(s < e2 and s2 < e for s2, e2 in spans) for s, e in spans)


def computed_cells(sweep_dir: Path) -> Counter:
    """(shard, cell) -> how many times a run finished computing it, from the task logs."""
    counts: Counter = Counter()
    for log in (sweep_dir / "logs").rglob("*_log.out"):
        counts.update((s, int(c)) for s, c in CELL_RE.findall(log.read_text()))
    return counts


# ---------------------------------------------------------------- sweeps used below
GRID = {"trials": 2, "eps": [0.0, 0.2, 0.4, 0.6, 0.8], "cells_per_shard": 2, "models": 2}  # 10 shards
ONE_SHARD = {"trials": 2, "eps": [0.1, 0.3, 0.5, 0.7], "cells_per_shard": 8, "models": 1}  # 8 cells


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(config, sweep dir): the same cells run by the local backend, in 2 shards not 10.

    Cell results must not depend on sharding or backend (seeds come from the cell), so a
    coarser sharding is a valid - and stronger - reference, and it is 4x cheaper here.
    """
    d = tmp_path_factory.mktemp("local")
    cfg = write_config(d / "grid.toml", **{**GRID, "cells_per_shard": 10},
                       executor={"backend": "local", "workers": 2})
    assert run_cli("run", cfg, "-o", d / "sweep") == 0
    return cfg, d / "sweep"


@pytest.fixture(scope="module")
def one_shard_reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("debug")
    cfg = write_config(d / "one.toml", **ONE_SHARD, executor={"backend": "debug"})
    assert run_cli("run", cfg, "-o", d / "sweep") == 0
    return d / "sweep"


def test_sweep_as_split_arrays_equals_local_backend(cluster: int, local_reference, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "grid.toml", **GRID, executor=slurm_options(cluster))
    sweep = tmp_path / "sweep"
    assert run_cli("run", cfg, "-o", sweep) == 0
    jobs = read_jobs(sweep)
    assert len(jobs) == 10 and {j.backend for j in jobs} == {"slurm"}
    arrays = arrays_of(jobs)
    assert sorted(len(v) for v in arrays.values()) == [2, 4, 4]  # 10 shards, MaxArraySize 4
    assert max(int(j.job_id.split("_")[1]) for j in jobs) == cluster - 1  # indices stay < 4
    assert {j.shard_id for j in jobs} == {f"shard-{i:05d}" for i in range(10)}
    backend = SlurmBackend.from_config({k: v for k, v in slurm_options(cluster).items() if k != "backend"})
    assert set(backend.states(jobs).values()) == {"COMPLETED"}
    # one sacct call for the 3 arrays / 10 tasks; squeue and scontrol are asked only about
    # ids that slurmdbd has not recorded yet (it lags a few seconds behind job ends)
    assert 1 <= backend.scheduler_calls <= 3
    assert sweep_status(sweep).all_done
    # one log pair per array task, not per cell; one sbatch script per array
    logs = list((sweep / "logs").iterdir())
    assert len(logs) == 1
    names = [p.name for p in logs[0].iterdir()]
    assert sum(n.endswith("_log.out") for n in names) == sum(n.endswith("_log.err") for n in names) == 10
    assert sum(n.endswith("_submission.sh") for n in names) == 3
    # array_parallelism (4) caps the sweep: arrays 2 and 3 wait for the previous one
    mains = sorted(arrays, key=int)
    for prev, nxt in itertools.pairwise(mains):
        assert f"#SBATCH --dependency=afterany:{prev}" in (logs[0] / f"{nxt}_submission.sh").read_text()
    assert max_overlap(mains) <= 4
    assert all(n == 1 for n in computed_cells(sweep).values()) and len(computed_cells(sweep)) == 20
    assert_same_results(sweep, local_reference[1])


def mrsweep(*args: object) -> subprocess.CompletedProcess:
    """``mrsweep`` in a new process (a new shell: only the sweep folder is shared)."""
    cmd = [sys.executable, "-m", "jobs.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def test_cancel_two_tasks_then_resume_runs_only_them(cluster: int, local_reference, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # scancel sends SIGTERM, which submitit ignores (it requeues on USR2 only), and SIGKILL
    # KillWait = 10 s later. A victim is picked before its first cell is done, so it still
    # has >= 2 x 8 s of cells to run: SIGKILL always lands before its shard file can.
    cfg = write_config(tmp_path / "grid.toml", **GRID, executor=slurm_options(cluster, cell_delay_s=8))
    sweep = tmp_path / "sweep"
    sub = mrsweep("run", cfg, "-o", sweep, "--no-wait", "-q")  # the submitter exits at once
    assert sub.returncode == 0 and "submitted 10 shard(s)" in sub.stdout, sub.stderr
    backend = SlurmBackend.from_config({k: v for k, v in slurm_options(cluster).items() if k != "backend"})
    jobs = read_jobs(sweep)
    assert len(jobs) == 10
    # resume while everything is queued or running: refuses to submit anything twice
    capsys.readouterr()
    assert run_cli("resume", sweep, "--no-wait") == 0
    assert "nothing submitted: 10 shard(s) still running" in capsys.readouterr().out
    assert len(read_jobs(sweep)) == 10
    # wait until two tasks run, cancel them mid-run
    deadline = time.monotonic() + WAIT_LIMIT_S
    shard_of = {j.job_id: j.shard_id for j in jobs}
    while True:
        states = backend.states(jobs)
        started = {s for s, _ in computed_cells(sweep)}
        # running and far from its end: no cell computed yet, so >= 16 s before its shard file
        running = sorted(j for j, s in states.items() if s == "RUNNING" and shard_of[j] not in started)
        if len(running) >= 2:
            break
        assert time.monotonic() < deadline, states
        time.sleep(0.5)
    victims = running[:2]
    subprocess.run(["scancel", *victims], check=True)
    final = wait_final(backend, sweep)
    assert {j for j, s in final.items() if s == "CANCELLED"} == set(victims)
    # a task whose shard file landed before SIGTERM reached it (a loaded machine) is done,
    # not failed: a valid shard file wins over the job state. Those that had none must rerun.
    cancelled = {j.shard_id for j in jobs if j.job_id in victims
                 and not (sweep / "shards" / f"{j.shard_id}.nc").exists()}
    assert cancelled, "both cancelled tasks had written their shard files"
    st = sweep_status(sweep)
    by_shard = {s.shard_id: s for s in st.shards}
    assert {s for s, v in by_shard.items() if v.state == "failed"} == cancelled
    assert all(by_shard[s].job_state == "CANCELLED" for s in cancelled)
    assert all(v.state == "done" for s, v in by_shard.items() if s not in cancelled)
    text = format_status(st)
    shown = mrsweep("status", sweep)  # from a new shell: job ids from jobs.jsonl, one sacct call
    assert shown.returncode == 0 and shown.stdout.strip() == text.strip(), shown.stderr
    for s in cancelled:
        assert re.search(rf"failed {s} .*CANCELLED", text)
    assert any("CANCELLED" in line for s in cancelled for line in by_shard[s].log_tail)  # slurmstepd's line
    # resume: exactly the cancelled shards without a shard file go out again
    assert run_cli("resume", sweep) == 0
    again = read_jobs(sweep)[10:]
    assert sorted(j.shard_id for j in again) == sorted(cancelled)
    assert sweep_status(sweep).all_done
    assert_same_results(sweep, local_reference[1])


def test_timeout_checkpoint_requeue(cluster: int, one_shard_reference: Path, tmp_path: Path) -> None:
    opts = slurm_options(cluster, time=1, cell_delay_s=4, max_requeues=8)
    cfg = write_config(tmp_path / "one.toml", **ONE_SHARD, executor=opts)
    sweep = tmp_path / "sweep"
    assert run_cli("run", cfg, "-o", sweep) == 0
    (job,) = read_jobs(sweep)
    out = next((sweep / "logs").rglob("*_log.out")).read_text()
    assert "checkpoint" in out and re.search(r"resumed [1-9]\d* cell\(s\) from the checkpoint", out), out
    assert "Requeued job" in out  # submitit requeued it after the timeout signal
    counts = computed_cells(sweep)
    assert sorted(c for _, c in counts) == list(range(8)) and set(counts.values()) == {1}  # no cell twice
    assert not list((sweep / "partial").glob("*.nc"))
    assert_same_results(sweep, one_shard_reference)


def test_preemption_resumes_from_checkpoint(cluster: int, one_shard_reference: Path, tmp_path: Path) -> None:
    import submitit

    cfg = write_config(tmp_path / "one.toml", **ONE_SHARD, executor=slurm_options(cluster, cell_delay_s=2, time=10))
    sweep = tmp_path / "sweep"
    assert run_cli("run", cfg, "-o", sweep, "--no-wait") == 0
    (rec,) = read_jobs(sweep)
    deadline = time.monotonic() + WAIT_LIMIT_S
    while sum(computed_cells(sweep).values()) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    submitit.SlurmJob(folder=rec.folder, job_id=rec.job_id)._interrupt()  # TERM + USR2, as on preemption
    backend = SlurmBackend.from_config({k: v for k, v in slurm_options(cluster).items() if k != "backend"})
    assert wait_final(backend, sweep) == {rec.job_id: "COMPLETED"}
    out = next((sweep / "logs").rglob("*_log.out")).read_text()
    m = re.search(r"resumed (\d+) cell\(s\) from the checkpoint", out)
    assert m and int(m.group(1)) >= 3, out
    counts = computed_cells(sweep)
    assert sorted(c for _, c in counts) == list(range(8)) and set(counts.values()) == {1}
    assert sweep_status(sweep).all_done
    assert_same_results(sweep, one_shard_reference)


def test_hostile_profile_value_rejected_before_submission(cluster: int, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    before = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID", "-S", "2000-01-01"],
                            capture_output=True, text=True, check=True).stdout
    cfg = write_config(tmp_path / "bad.toml", **GRID, executor=slurm_options(cluster, partition="debug; rm -rf ~"))
    assert run_cli("run", cfg, "-o", tmp_path / "sweep") == 2
    err = capsys.readouterr().err
    assert "executor.partition: 'debug; rm -rf ~' is not a partition name" in err
    assert not (tmp_path / "sweep").exists()
    # the same through a profile file given on the command line
    bad = tmp_path / "bad-site.toml"
    bad.write_text('partition = "debug"\naccount = "$(touch pwned)"\n')
    good = write_config(tmp_path / "ok.toml", **GRID, executor={"backend": "local"})
    assert run_cli("run", good, "-o", tmp_path / "sweep2", "--backend", "slurm", "--profile", bad) == 2
    assert "bad-site.toml: account: '$(touch pwned)' is not a name" in capsys.readouterr().err
    assert not (tmp_path / "sweep2").exists() and not (tmp_path / "pwned").exists()  # nothing planned
    assert run_cli("run", good, "-o", tmp_path / "sweep2", "--profile", "local") == 2
    assert "--profile does not apply to backend 'local'" in capsys.readouterr().err
    # a safe but wrong value reaches sbatch, which refuses it: its message on one line, nothing recorded
    wrong = write_config(tmp_path / "wrong.toml", **GRID, executor=slurm_options(cluster, partition="nosuchpart"))
    assert run_cli("run", wrong, "-o", tmp_path / "sweep3") == 2
    err = capsys.readouterr().err
    assert "sbatch refused array 1 of 3 (0 shard(s) already submitted" in err and "nosuchpart" in err
    assert not (tmp_path / "sweep3" / "jobs.jsonl").exists()
    after = subprocess.run(["sacct", "-X", "-n", "-P", "-o", "JobID", "-S", "2000-01-01"],
                           capture_output=True, text=True, check=True).stdout
    assert after == before  # nothing reached the scheduler


def _planned_for_sbatch(tmp_path: Path) -> tuple[Path, Path]:
    """A planned 4-shard sweep (no jobs yet) and a local profile with arrays of at most 2."""
    cfg = write_config(tmp_path / "one.toml", **{**ONE_SHARD, "cells_per_shard": 2}, executor={"backend": "debug"})
    sweep = tmp_path / "sweep"
    assert main(["plan", str(cfg), "-o", str(sweep)]) == 0
    profile = tmp_path / "p.toml"
    profile.write_text((Path(__file__).parents[2] / "slurm_templates/profiles/local.toml").read_text()
                       + "max_array_size = 2\n")
    return sweep, profile


def test_plain_sbatch_template_runs_shards_without_submitit(cluster: int, one_shard_reference: Path,
                                                            tmp_path: Path) -> None:
    from jobs.run_shard import sbatch_commands

    sweep, profile = _planned_for_sbatch(tmp_path)
    lines = sbatch_commands(sweep, str(profile))
    assert len(lines) == 2 and all("--array=0-1%2" in line for line in lines)  # 4 shards, arrays of 2
    ids = [subprocess.run(["sbatch", "--parsable", *shlex.split(line)[1:]], capture_output=True, text=True,
                          check=True).stdout.strip() for line in lines]
    deadline = time.monotonic() + WAIT_LIMIT_S
    while subprocess.run(["squeue", "-h", "-j", ",".join(ids)], capture_output=True, text=True).stdout.strip():
        assert time.monotonic() < deadline
        time.sleep(1)
    assert sweep_status(sweep).all_done
    assert len(list((sweep / "logs" / "sbatch").glob("*.out"))) == 4
    # every task recorded itself when it started: status/resume know the job of each shard
    jobs = read_jobs(sweep)
    assert sorted(j.job_id for j in jobs) == sorted(f"{a}_{i}" for a in ids for i in (0, 1))
    assert sorted(j.shard_id for j in jobs) == [f"shard-0000{i}" for i in range(4)]
    assert all(j.backend == "slurm" and log_paths(j)[0].is_file() for j in jobs)
    assert all("[mrsweep] running" in log_paths(j)[0].read_text() for j in jobs)
    assert_same_results(sweep, one_shard_reference)


def test_resume_aggregate_waits_for_shards_submitted_earlier(cluster: int, local_reference, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """`resume --aggregate` while an earlier `run --no-wait` is queued: nothing is submitted
    twice, it waits for those shards, then aggregates."""
    cfg = write_config(tmp_path / "grid.toml", **GRID, executor=slurm_options(cluster, cell_delay_s=1))
    sweep = tmp_path / "sweep"
    assert run_cli("run", str(cfg), "-o", str(sweep), "--no-wait") == 0
    text = format_status(sweep_status(sweep))
    line = next(x for x in text.splitlines() if x.startswith("running: 10 shard(s)"))
    split = re.findall(r"(\d+) (pending|running|configuring|completing)", line.split("(s)", 1)[1])
    assert not split or sum(int(k) for k, _ in split) == 10, line  # e.g. "(4 running, 6 pending)"
    capsys.readouterr()
    assert run_cli("resume", str(sweep), "--aggregate") == 0
    out = capsys.readouterr().out
    assert "nothing submitted: 10 shard(s) still running" in out and "waiting for 10 shard(s) submitted earlier" in out
    assert "not aggregating yet" not in out
    assert len(read_jobs(sweep)) == 10  # nothing went out twice
    assert (sweep / "aggregate" / "curves.nc").is_file()
    assert_same_results(sweep, local_reference[1])


def test_plain_sbatch_submit_records_pending_tasks(cluster: int, one_shard_reference: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """`--sbatch-submit` records every task at submission: status never shows them missing."""
    from jobs.run_shard import main as run_shard_main

    sweep, profile = _planned_for_sbatch(tmp_path)
    capsys.readouterr()
    assert run_shard_main([str(sweep), "--sbatch-submit", "--profile", str(profile)]) == 0
    assert "submitted 2 array(s)" in capsys.readouterr().out
    jobs = read_jobs(sweep)
    assert sorted(j.shard_id for j in jobs) == [f"shard-0000{i}" for i in range(4)]
    st = sweep_status(sweep)
    assert not st.ids("missing") and not st.ids("failed")  # pending, running or already done
    if st.ids("running"):
        assert run_cli("resume", str(sweep), "--no-wait", "--backend", "slurm", "--profile", str(profile)) == 0
        assert "nothing submitted" in capsys.readouterr().out
    backend = SlurmBackend.from_config({"profile": str(profile)})
    wait_final(backend, sweep)
    assert sweep_status(sweep).all_done
    assert {j.job_id for j in read_jobs(sweep)} == {j.job_id for j in jobs}  # task-start records: same ids
    assert_same_results(sweep, one_shard_reference)
