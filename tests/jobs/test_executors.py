"""Backends: registry, options, job states from a fresh process, jobs.jsonl records."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.executors import backend_class, backend_names, get_backend, latest_jobs, read_jobs
from jobs.executors.base import SubmittedJob, chunked, record_jobs
from jobs.executors.local import LocalBackend
from modelrepair.errors import SpecError


def test_registry_and_options() -> None:
    assert {"local", "debug", "slurm"} <= set(backend_names())
    local = get_backend("local", {"workers": 3})
    assert isinstance(local, LocalBackend) and local.max_concurrent() == 3 and local.options.threads_per_worker == 1
    assert get_backend("debug").max_concurrent() == 1
    with pytest.raises(SpecError, match="executor.backend: expected one of"):
        backend_class("nope")
    with pytest.raises(SpecError, match="executor.workers: must be a positive integer, got 0"):
        LocalBackend.from_config({"workers": 0})
    assert [list(c) for c in chunked([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert chunked([1, 2], None) == [[1, 2]] and chunked([], 3) == []


def test_local_states_from_a_fresh_backend(tmp_path: Path) -> None:
    """A new shell knows only pids and submitit's result pickles."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "submitit-controller"])
    try:
        job = SubmittedJob("shard-00000", "local", str(proc.pid), str(tmp_path), "t")
        done = SubmittedJob("shard-00001", "local", "999999991", str(tmp_path), "t")
        err = SubmittedJob("shard-00002", "local", "999999992", str(tmp_path), "t")
        gone = SubmittedJob("shard-00003", "local", "999999993", str(tmp_path), "t")
        (tmp_path / "999999991_0_result.pkl").write_bytes(pickle.dumps(("success", "path")))
        (tmp_path / "999999992_0_result.pkl").write_bytes(pickle.dumps(("error", "Traceback ...")))
        states = LocalBackend().states([job, done, err, gone])
        assert states == {str(proc.pid): "RUNNING", "999999991": "COMPLETED", "999999992": "FAILED", "999999993": "INTERRUPTED"}
    finally:
        proc.kill()
        proc.wait()
    assert LocalBackend().states([job])[str(proc.pid)] == "INTERRUPTED"


def test_jobs_jsonl_latest_per_shard_and_manifest(tmp_path: Path) -> None:
    record_jobs(tmp_path, [SubmittedJob("shard-00000", "local", "1", "f", "t1", "h1"),
                           SubmittedJob("shard-00001", "local", "2", "f", "t1", "h1")])
    (tmp_path / "jobs.jsonl").open("a").write("{not json\n")
    record_jobs(tmp_path, [SubmittedJob("shard-00000", "debug", "3", "f", "t2", "h1"),
                           SubmittedJob("shard-00000", "local", "4", "f", "t3", "h2")])
    assert [j.job_id for j in read_jobs(tmp_path)] == ["1", "2", "3", "4"]
    assert {k: v.job_id for k, v in latest_jobs(tmp_path, "h1").items()} == {"shard-00000": "3", "shard-00001": "2"}
    assert latest_jobs(tmp_path)["shard-00000"].job_id == "4"


def test_plain_sbatch_task_records_its_job_id(tmp_path, monkeypatch) -> None:
    """An array task of slurm_templates/sbatch/array.sbatch appends itself to jobs.jsonl."""
    from jobs.executors import read_jobs
    from jobs.executors.base import log_paths
    from jobs.run_shard import record_array_task

    record_array_task(tmp_path, "shard-00003", "abc")  # not inside Slurm: nothing recorded
    assert read_jobs(tmp_path) == []
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "417")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    record_array_task(tmp_path, "shard-00003", "abc")
    (job,) = read_jobs(tmp_path)
    assert (job.shard_id, job.backend, job.job_id, job.manifest_hash) == ("shard-00003", "slurm", "417_3", "abc")
    # the template's --output/--error names (%A_%a_0_log.out) are where status looks
    assert log_paths(job)[1] == tmp_path.absolute() / "logs" / "sbatch" / "417_3_0_log.err"


def test_sbatch_lines_refuse_a_python_that_cannot_run_shards(tmp_path, monkeypatch) -> None:
    """MRSWEEP_PYTHON is this interpreter: if it lacks xarray (say), refuse before any sbatch."""
    import importlib.util

    import pytest
    from jobs_testkit import write_config

    from jobs.cli import main
    from jobs.manifest import load_manifest
    from jobs.run_shard import check_task_python
    from modelrepair.errors import UserError

    sweep = tmp_path / "sw"
    assert main(["plan", str(write_config(tmp_path / "c.toml", sweep={"output": str(sweep)}))]) == 0
    manifest = load_manifest(sweep)
    check_task_python(manifest)  # this environment has everything
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xarray" else real(name, *a))
    with pytest.raises(UserError, match=r"cannot import xarray, which every shard needs; .*\.venv/bin/python"):
        check_task_python(manifest)


def test_driver_stops_waiting_when_the_scheduler_never_answers(tmp_path, monkeypatch, capsys) -> None:
    """All in-flight states UNREACHABLE for UNREACHABLE_GIVE_UP_S: stop waiting, report them as
    still running (never as failed), submit nothing more."""
    from jobs_testkit import write_config

    import jobs.driver as driver
    from jobs.cli import main
    from jobs.executors.base import UNREACHABLE
    from jobs.executors.debug import DebugBackend
    from jobs.manifest import load_manifest

    class Silent(DebugBackend):
        def states(self, jobs):
            return {j.job_id: UNREACHABLE for j in jobs}

    sweep = tmp_path / "sw"
    assert main(["plan", str(write_config(tmp_path / "c.toml", sweep={"output": str(sweep)}))]) == 0
    manifest = load_manifest(sweep)
    monkeypatch.setattr(driver, "UNREACHABLE_GIVE_UP_S", 0.0)
    ids = [s.shard_id for s in manifest.shards]
    report = driver.execute(sweep, manifest, Silent(), ids, progress=False)
    assert report.still_running == (ids[0],) and not report.failed and not report.done
    assert report.submitted == (ids[0],)  # the rest were never submitted (they stay missing)
    assert "the scheduler has not answered for 0 min" in capsys.readouterr().err
