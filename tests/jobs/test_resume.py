"""Resume after SIGKILL: only unfinished shards rerun; result equals an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from jobs_testkit import MRSWEEP, REPO, assert_same_results, write_config

from aggregate.merge import merge_sweep
from jobs.cli import main
from jobs.executors import read_jobs
from jobs.manifest import load_manifest
from jobs.status import format_status, sweep_status

EPS = (0.0, 0.3, 0.6, 0.9)


def _config(tmp: Path, name: str, backend: str) -> Path:
    return write_config(tmp / f"{name}.toml", sweep={"cells_per_shard": 4, "output": str(tmp / name)},
                        executor={"backend": backend, "workers": 2} if backend == "local" else {"backend": backend},
                        epsilon=EPS)


def _merged(sweep: Path):
    ds = merge_sweep(sweep).dataset
    return ds.sortby("cell_id")


def test_sigkill_then_resume_runs_only_unfinished_shards(tmp_path: Path, capsys) -> None:
    # reference: the same sweep, uninterrupted, in-process
    assert main(["run", str(_config(tmp_path, "ref", "debug")), "-q"]) == 0
    cfg = _config(tmp_path, "killed", "local")
    sweep = tmp_path / "killed"
    shards = sweep / "shards"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MRSWEEP, "run", str(cfg), "-q"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    n_total = 6
    try:
        while proc.poll() is None:
            n = len(list(shards.glob("*.nc"))) if shards.is_dir() else 0
            if n >= 1:
                os.killpg(proc.pid, signal.SIGKILL)  # the driver, its workers and their tasks
                break
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    time.sleep(0.5)
    m = load_manifest(sweep)
    assert len(m.shards) == n_total
    st = sweep_status(sweep)
    done_before = st.ids("done")
    assert 1 <= len(done_before) < n_total
    assert not st.ids("running")  # killed jobs are seen as ended, not running
    killed_jobs = {j.shard_id for j in read_jobs(sweep)}
    assert set(st.ids("failed")) == killed_jobs - set(done_before)

    # plant garbage: a truncated copy of a finished shard and a garbage file for a missing one
    truncated = shards / f"{done_before[0]}.nc"
    truncated.write_bytes(truncated.read_bytes()[:200])
    missing = st.ids("missing")
    garbage_id = missing[0] if missing else st.ids("failed")[0]
    (shards / f"{garbage_id}.nc").write_bytes(b"not a netCDF file at all")
    leftover = shards / f"{garbage_id}.nc.tmp-999999"  # what a writer killed mid-write leaves
    leftover.write_bytes(b"half a file")
    # a killed writer's temp file beside a shard finished later (by another job): removed too
    done_leftover = shards / f"{done_before[-1]}.nc.tmp-999998"
    done_leftover.write_bytes(b"half a file")
    st = sweep_status(sweep)
    assert {done_before[0], garbage_id} <= set(st.ids("stale"))
    report = format_status(st)
    assert f"stale {done_before[0]}" in report and f"corrupt: {done_before[0]}.nc: unreadable netCDF file (" in report and "resume would run" in report
    keep = {sid: (shards / f"{sid}.nc").stat().st_mtime_ns for sid in done_before[1:]}
    expected_rerun = set(st.to_resume())
    assert expected_rerun == set(m.shard(s.shard_id).shard_id for s in st.shards if s.state != "done")

    n_lines = len(read_jobs(sweep))
    capsys.readouterr()
    # resume in-process (debug backend: same selection logic, no process start-up cost)
    assert main(["resume", str(sweep), "-q", "--backend", "debug"]) == 0
    new_jobs = read_jobs(sweep)[n_lines:]
    assert {j.shard_id for j in new_jobs} == expected_rerun and len(new_jobs) == len(expected_rerun)
    assert all((shards / f"{sid}.nc").stat().st_mtime_ns == t for sid, t in keep.items())
    assert sweep_status(sweep).all_done
    assert not leftover.exists() and not done_leftover.exists()
    assert_same_results(_merged(sweep), _merged(tmp_path / "ref"))

    # running again: nothing to do, nothing submitted
    capsys.readouterr()
    assert main(["run", str(cfg)]) == 0
    assert "nothing to do: all 6 shards" in capsys.readouterr().out
    assert len(read_jobs(sweep)) == n_lines + len(new_jobs)


def test_log_tail_keeps_the_schedulers_verdict(tmp_path: Path) -> None:
    """srun's kill messages after slurmstepd's CANCELLED line must not hide it in status."""
    from jobs.status import tail

    log = tmp_path / "1_0_log.err"
    log.write_text("srun: got SIGCONT\n"
                   "slurmstepd-vm: error: *** JOB 29 ON vm CANCELLED AT 2026-12-04T06:02:28 ***\n"
                   "srun: forcing job termination\n\n"
                   + "".join(f"line {i}\n" for i in range(6)))
    got = tail(log, lines=3)
    assert got == ("slurmstepd-vm: error: *** JOB 29 ON vm CANCELLED AT 2026-12-04T06:02:28 ***",
                   "line 4", "line 5")
    log.write_text("a\nb\n")
    assert tail(log, lines=3) == ("a", "b")
    assert tail(tmp_path / "missing.err") == ()


def test_ctrl_c_prints_one_line_and_resume_completes(tmp_path: Path, capsys) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it): one message, no
    traceback from submitit's controllers, no process left, and resume finishes the sweep."""
    assert main(["run", str(_config(tmp_path, "ref", "debug")), "-q"]) == 0
    cfg = _config(tmp_path, "ctrlc", "local")
    sweep = tmp_path / "ctrlc"
    shards = sweep / "shards"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*MRSWEEP, "run", str(cfg), "-q"], env=env, start_new_session=True, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while proc.poll() is None and not (shards.is_dir() and any(shards.glob("*.nc"))):
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode == 0:  # the sweep won the race: nothing to interrupt
        return
    assert proc.returncode == 130, err
    assert "mrsweep run: interrupted; `mrsweep status` shows what is left" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    for _ in range(100):  # controllers and tasks are gone (they exit within a second or two)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("processes of the interrupted run are still alive")
    st = sweep_status(sweep)
    assert not st.ids("running") and st.ids("done")
    for s in st.shards:
        if s.state == "failed":
            assert "Traceback" not in "\n".join(s.log_tail)
    assert main(["resume", str(sweep), "-q", "--backend", "debug"]) == 0
    assert sweep_status(sweep).all_done
    assert_same_results(_merged(sweep), _merged(tmp_path / "ref"))
