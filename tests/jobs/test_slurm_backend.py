"""Slurm backend logic that needs no cluster: state parsing, one query per refresh, options.

Scheduler commands are replaced by small fake scripts on PATH that log their calls.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from jobs.executors.base import SubmittedJob, chunked
from jobs.executors.slurm import SlurmBackend, expand_job_ids, normalize_state, parse_states
from jobs.profiles import PROFILE_DIR
from modelrepair.errors import SpecError

SACCT_OUT = """12_0|COMPLETED
12_1|CANCELLED by 0
12_[2-3%2]|PENDING
13_0|TIMEOUT
13_1|RUNNING
13_1.batch|RUNNING
14|REQUEUED
"""


def test_expand_and_parse_states() -> None:
    assert expand_job_ids("12_[2-4,7%2]") == ["12_2", "12_3", "12_4", "12_7"]
    assert expand_job_ids("12_5") == ["12_5"] and expand_job_ids("9") == ["9"]
    assert normalize_state("CANCELLED by 1000") == "CANCELLED"
    assert normalize_state("REQUEUE_HOLD") == "REQUEUED" and normalize_state("") == "UNKNOWN"
    assert parse_states(SACCT_OUT) == {
        "12_0": "COMPLETED", "12_1": "CANCELLED", "12_2": "PENDING", "12_3": "PENDING",
        "13_0": "TIMEOUT", "13_1": "RUNNING", "14": "REQUEUED",
    }


def fake_tools(tmp_path: Path, sacct: str, squeue: str = "") -> Path:
    """sacct/squeue/scontrol scripts that print canned output and log each call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, out in (("sacct", sacct), ("squeue", squeue), ("scontrol", "MaxArraySize            = 7\n")):
        (tmp_path / f"{name}.out").write_text(out)
        script = bin_dir / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >> {log}\ncat {tmp_path / (name + ".out")}\n')
        script.chmod(0o755)
    return log


def job(shard: int, job_id: str) -> SubmittedJob:
    return SubmittedJob(f"shard-{shard:05d}", "slurm", job_id, "/nowhere", "t")


def test_states_one_sacct_call_for_the_whole_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = fake_tools(tmp_path, SACCT_OUT, squeue="15_[0-1]|PENDING\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    backend = SlurmBackend.from_config({"profile": "local"})
    jobs = [job(0, "12_0"), job(1, "12_1"), job(2, "12_2"), job(3, "12_3"), job(4, "13_0"), job(5, "13_1"), job(6, "14")]
    states = backend.states(jobs)
    assert states == {"12_0": "COMPLETED", "12_1": "CANCELLED", "12_2": "PENDING", "12_3": "PENDING",
                      "13_0": "TIMEOUT", "13_1": "RUNNING", "14": "REQUEUED"}
    calls = log.read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("sacct ") and calls[0].endswith("-j 12,13,14")
    # ids sacct does not know yet: one squeue call for those only, then scontrol for what
    # squeue does not list either (ended a moment ago); unknown to all three stays UNKNOWN
    log.unlink()
    states = backend.states([job(0, "12_0"), job(7, "15_1"), job(8, "16_0"), job(9, "bad id")])
    assert states == {"12_0": "COMPLETED", "15_1": "PENDING", "16_0": "UNKNOWN", "bad id": "UNKNOWN"}
    calls = log.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["sacct", "squeue", "scontrol"] and calls[1].endswith("-j 15,16")
    assert calls[2] == "scontrol -o show job 16"
    assert backend.scheduler_calls == 4


def test_scheduler_that_does_not_answer_means_unreachable_not_failed(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """sacct, squeue and scontrol all fail (slurmctld restarting): no job may be judged
    finished, and status/resume must not treat the shards as failed."""
    from jobs.executors.base import ACTIVE_STATES, UNREACHABLE

    fake_tools(tmp_path, "")
    for name in ("sacct", "squeue", "scontrol"):
        (tmp_path / "bin" / name).write_text("#!/bin/sh\necho 'slurm_load_jobs error: Socket timed out' >&2\nexit 1\n")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    backend = SlurmBackend.from_config({"profile": "local", "max_array_size": 4})
    states = backend.states([job(0, "12_0"), job(1, "13")])
    assert states == {"12_0": UNREACHABLE, "13": UNREACHABLE} and UNREACHABLE in ACTIVE_STATES
    # status: such a shard is "running" with the reason, and resume leaves it alone
    from jobs_testkit import write_config

    from jobs.cli import main
    from jobs.executors.base import record_jobs
    from jobs.manifest import load_manifest
    from jobs.status import format_status, sweep_status

    sweep = tmp_path / "sw"
    cfg = write_config(tmp_path / "c.toml", sweep={"output": str(sweep)}, executor={"backend": "debug"})
    assert main(["plan", str(cfg)]) == 0
    m = load_manifest(sweep)
    record_jobs(sweep, [SubmittedJob("shard-00000", "slurm", "12_0", str(tmp_path), "t", m.hash)])
    st = sweep_status(sweep, m, {"slurm": backend})
    first = st.shards[0]
    assert first.state == "running" and "the scheduler did not answer" in first.reason
    assert "shard-00000" not in st.to_resume() and "running: 1 shard(s)" in format_status(st)
    # an answer without the job (sacct works, the id is unknown to all) stays UNKNOWN (= ended)
    (tmp_path / "bin" / "sacct").write_text("#!/bin/sh\nexit 0\n")
    assert backend.states([job(0, "12_0")]) == {"12_0": "UNKNOWN"}


def test_max_array_size_from_scontrol_or_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_tools(tmp_path, "")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert SlurmBackend.from_config({"profile": "local"}).max_array_size == 7
    assert SlurmBackend.from_config({"profile": "local", "max_array_size": 4}).max_array_size == 4
    tasks = list(range(10))
    assert [len(c) for c in chunked(tasks, 4)] == [4, 4, 2]


def test_options_validate_and_round_trip() -> None:
    opts = SlurmBackend.validate_options({"profile": "local", "time": "00:30:00", "cell_delay_s": 1})
    assert opts.overrides == {"time": "00:30:00"} and opts.cell_delay_s == 1.0
    again = SlurmBackend.validate_options(dataclasses.asdict(opts))  # as stored in the manifest
    assert again == opts
    backend = SlurmBackend(again)
    assert backend.profile.time_min == 30 and backend.poll_interval_s == 5.0
    path = SlurmBackend.validate_options({"profile": str(PROFILE_DIR / "example-site.toml")}).profile
    assert Path(path).is_absolute()
    with pytest.raises(SpecError, match=r"executor\.qos: 'x y' is not a name"):
        SlurmBackend.validate_options({"qos": "x y"})
    with pytest.raises(SpecError, match=r"executor\.cell_delay_s"):
        SlurmBackend.validate_options({"cell_delay_s": -1})
    with pytest.raises(SpecError, match=r"executor\.workers: unknown key"):
        SlurmBackend.validate_options({"workers": 2})


def test_submitit_parameters_of_the_local_profile() -> None:
    params = SlurmBackend.from_config({"profile": "local"}).profile.submitit_parameters()
    assert params == {"time": 10, "cpus_per_task": 1, "array_parallelism": 4,
                      "job_name": "mrsweep-local", "partition": "debug"}


def test_checkpoint_mid_shard_then_requeued_task_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """What submitit does on USR2, in-process: checkpoint after 2 cells, exit, run the requeued task."""
    import xarray as xr

    from jobs import checkpoint
    from jobs.cli import main
    from jobs.shard import run_shard

    cfg = tmp_path / "c.toml"
    cfg.write_text('[sweep]\nname = "c"\ntrials = 3\ncells_per_shard = 6\n[grid]\nepsilon = [0.1, 0.4]\n'
                   '[executor]\nbackend = "debug"\n[[models]]\nname = "m"\nkind = "linear"\n'
                   'design = { source = "gaussian", n = 6, p = 20 }\n')
    for d in ("a", "b"):
        assert main(["plan", str(cfg), "-o", str(tmp_path / d)]) == 0
    reference = run_shard(tmp_path / "b", "shard-00000")

    task = checkpoint.SlurmShardTask()
    original = checkpoint._LoggedCells.__setitem__

    def interrupted(self, cell_id, outcome):  # type: ignore[no-untyped-def]
        original(self, cell_id, outcome)
        if len(self) == 2:
            assert task.checkpoint(str(tmp_path / "a"), "shard-00000") is not None
            raise SystemExit(-1)  # submitit requeues, then exits

    monkeypatch.setattr(checkpoint._LoggedCells, "__setitem__", interrupted)
    with pytest.raises(SystemExit):
        task(str(tmp_path / "a"), "shard-00000")
    assert (tmp_path / "a" / "partial" / "shard-00000.nc").is_file()
    assert not (tmp_path / "a" / "shards" / "shard-00000.nc").exists()
    monkeypatch.setattr(checkpoint._LoggedCells, "__setitem__", original)
    requeued = task.checkpoint(str(tmp_path / "a"), "shard-00000")  # what submitit pickles
    path = requeued.result()
    out = capsys.readouterr().out
    assert "resumed 2 cell(s) from the checkpoint" in out
    assert [int(c) for c in re.findall(r"cell (\d+) computed", out)] == [0, 1, 2, 3, 4, 5]  # each once
    assert not (tmp_path / "a" / "partial" / "shard-00000.nc").exists()
    with xr.open_dataset(path) as a, xr.open_dataset(reference) as b:
        assert a.drop_vars("solve_seconds").equals(b.drop_vars("solve_seconds"))


def test_split_arrays_chained_so_parallelism_caps_the_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """10 shards, arrays of 4, array_parallelism 8: two chains, array 3 waits for array 1."""
    from jobs.executors.base import Task, read_jobs

    fake_tools(tmp_path, "")
    counter = tmp_path / "next_id"
    counter.write_text("100")
    for name, body in (("sbatch", f'n=$(cat {counter}); echo $((n+1)) > {counter}; echo "Submitted batch job $n"'),
                       ("srun", "exit 0")):
        (tmp_path / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (tmp_path / "bin" / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    backend = SlurmBackend.from_config({"profile": "local", "max_array_size": 4, "array_parallelism": 8})
    tasks = [Task(str(tmp_path), f"shard-{i:05d}") for i in range(10)]
    jobs = backend.submit_and_record(tasks, tmp_path / "logs", tmp_path, "h")
    assert [j.job_id for j in jobs] == [f"{a}_{i}" for a, n in ((100, 4), (101, 4), (102, 2)) for i in range(n)]
    assert [j.shard_id for j in read_jobs(tmp_path)] == [t.shard_id for t in tasks]
    scripts = {a: (tmp_path / "logs" / f"{a}_submission.sh").read_text() for a in (100, 101, 102)}
    assert "--array=0-3%4" in scripts[100] and "--array=0-1%2" in scripts[102]
    assert "dependency" not in scripts[100] and "dependency" not in scripts[101]
    assert "#SBATCH --dependency=afterany:100" in scripts[102]


def test_scontrol_lines_give_states_of_jobs_sacct_does_not_know_yet() -> None:
    from jobs.executors.slurm import parse_scontrol_jobs

    text = (
        "JobId=41 ArrayJobId=40 ArrayTaskId=1 JobName=x JobState=COMPLETED Reason=None\n"
        "JobId=40 ArrayJobId=40 ArrayTaskId=2-3%2 JobName=x JobState=PENDING Reason=JobArrayTaskLimit\n"
        "JobId=50 JobName=plain JobState=CANCELLED Reason=None\n"
        "garbage line without state\n"
    )
    assert parse_scontrol_jobs(text) == {
        "40_1": "COMPLETED", "40_2": "PENDING", "40_3": "PENDING", "50": "CANCELLED",
    }
