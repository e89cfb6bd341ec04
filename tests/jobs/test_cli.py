"""The mrsweep CLI: help texts, pluggable commands, status of failed shards, user errors."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from jobs_testkit import MRSWEEP, REPO, cli, write_config

from jobs import cli as cli_mod
from jobs.cli import build_parser, main
from jobs.executors import read_jobs
from jobs.status import sweep_status

COMMANDS = ["plan", "run", "status", "resume", "aggregate", "plot", "solvers"]


def test_every_subcommand_has_help(capsys) -> None:
    parser = build_parser()
    names = set(parser._subparsers._group_actions[0].choices)  # noqa: SLF001
    assert set(COMMANDS) <= names
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exc:
            main([name, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: mrsweep {name}") and len(out.splitlines()) > 4, name


def test_commands_are_pluggable(monkeypatch, capsys, tmp_path: Path) -> None:
    mod = tmp_path / "mrsweep_extra_cmd.py"
    mod.write_text(
        "def register(sub):\n"
        "    p = sub.add_parser('hello', help='say hello')\n"
        "    p.set_defaults(func=lambda args: print('hello from a plug-in') or 0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(cli_mod, "COMMAND_MODULES", [*cli_mod.COMMAND_MODULES, "mrsweep_extra_cmd"])
    assert main(["hello"]) == 0
    assert capsys.readouterr().out == "hello from a plug-in\n"


def test_solvers_lists_backends(capsys, monkeypatch, tmp_path: Path) -> None:
    import jobs.cli_solvers
    from modelrepair import lad

    def plugin(A, B, **options):
        """A ``plug-in`` backend.

        More text."""

    lad.available_solvers()
    monkeypatch.setattr(lad, "_BACKENDS", {k: v for k, v in lad._BACKENDS.items() if not k.startswith("test_")})
    monkeypatch.setitem(lad._BACKENDS, "zz_plugin", plugin)
    monkeypatch.setattr(jobs.cli_solvers.shutil, "which", lambda name: None)  # no R here
    assert main(["solvers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("LAD solvers for `[repair] solver = NAME`")
    rows = {line.split()[0]: line for line in lines[1:]}
    assert list(rows) == ["batched", "highs", "cvxpy", "quantreg", "zz_plugin"]
    assert rows["zz_plugin"] == "  zz_plugin          A plug-in backend; available"
    assert rows["batched"].startswith("  batched (default)  ADMM on all columns")
    assert rows["batched"].endswith("; returns certified, exact_lp, failed; available")
    assert rows["highs"].endswith("per column; returns exact_lp, failed; available")
    assert rows["quantreg"].endswith("not available: needs Rscript on PATH and the R package quantreg (benchmarks/setup_r.sh)")
    assert "``" not in "\n".join(lines) and "(default)" not in rows["highs"]
    monkeypatch.undo()
    # R present: a (fake) Rscript is asked whether the quantreg package loads
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for rc, expected in ((0, "available"),
                         (3, "not available: R is installed but the R package quantreg is not (benchmarks/setup_r.sh)")):
        (bin_dir / "Rscript").write_text(f"#!/bin/sh\nexit {rc}\n")
        (bin_dir / "Rscript").chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        assert jobs.cli_solvers.availability("quantreg", True) == expected


def test_user_errors_exit_2_without_traceback(tmp_path: Path) -> None:
    res = cli("status", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip() == f"mrsweep status: error: {tmp_path}: no manifest.json here; is this a sweep folder? (create one with `mrsweep plan CONFIG`)"
    res = cli("run")
    assert res.returncode == 2 and "give a CONFIG file" in res.stderr and "Traceback" not in res.stderr
    res = cli("aggregate", str(tmp_path / "nope"))
    assert res.returncode == 2 and "neither a sweep folder nor a .toml config file" in res.stderr


def test_failed_shard_status_shows_log_tail_and_resume_reruns(tmp_path: Path, colon_paths, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(colon_paths[0], data / "X.csv")
    model = {"name": "colon", "kind": "linear", "design": {"source": "colon", "p": 10, "data": "data/X.csv"}}
    cfg = write_config(tmp_path / "c.toml", sweep={"trials": 1, "cells_per_shard": 2, "output": str(tmp_path / "sw")},
                       epsilon=(0.0, 0.1), models=[model], executor={"backend": "local", "workers": 1})
    assert main(["plan", str(cfg)]) == 0
    (data / "X.csv").unlink()  # the data vanish after planning: the job fails while fitting
    capsys.readouterr()
    assert main(["run", str(cfg), "-q"]) == 2  # `run` re-validates the config: missing data named
    assert "X.csv: design (X) file not found; fix the path in the config or pass --data-dir DIR" in capsys.readouterr().err
    assert main(["resume", str(tmp_path / "sw"), "-q"]) == 1  # resume trusts the manifest: the job fails
    out = capsys.readouterr().out
    assert "0 shard(s) done, 1 failed" in out
    st = sweep_status(tmp_path / "sw")
    assert st.ids("failed") == ["shard-00000"]
    s = st.shards[0]
    assert s.job_state == "FAILED" and any("DataFileError" in line for line in s.log_tail), s.log_tail
    assert main(["status", str(tmp_path / "sw")]) == 0
    report = capsys.readouterr().out
    assert "failed shard-00000 (colon): job" in report and "| " in report and "X.csv" in report
    assert "resume would run 1 shard(s): shard-00000" in report
    # put the data back: resume reruns the failed shard only
    shutil.copy(colon_paths[0], data / "X.csv")
    assert main(["resume", str(cfg), "-q", "--backend", "debug"]) == 0
    assert sweep_status(tmp_path / "sw").all_done
    assert [j.backend for j in read_jobs(tmp_path / "sw")] == ["local", "debug"]


def test_executor_settings_come_from_the_current_config(tmp_path: Path, capsys) -> None:
    import argparse

    from jobs.cli_sweep import _backend
    from jobs.config import load_config
    from jobs.manifest import load_manifest

    cfg = write_config(tmp_path / "x.toml", sweep={"output": str(tmp_path / "sw")}, executor={"backend": "local", "workers": 1})
    assert main(["plan", str(cfg)]) == 0
    write_config(cfg, sweep={"output": str(tmp_path / "sw")}, executor={"backend": "local", "workers": 3})
    assert main(["plan", str(cfg)]) == 0  # same manifest: executor options are not part of the hash
    assert capsys.readouterr().out.count("existing: sweep") == 1
    m = load_manifest(tmp_path / "sw")
    args = argparse.Namespace(backend=None, workers=None, no_wait=False)
    backend, opts = _backend(m, args, load_config(cfg))
    assert backend.name == "local" and opts["workers"] == 3
    backend, opts = _backend(m, argparse.Namespace(backend=None, workers=2, no_wait=False))
    assert opts["workers"] == 2  # --workers overrides; without a config the manifest's executor is used
    assert main(["resume", str(tmp_path / "sw"), "--backend", "debug", "--workers", "2"]) == 2
    assert "--workers does not apply to backend 'debug'" in capsys.readouterr().err


def test_bad_backend_or_profile_writes_nothing(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('partition = "debug; rm -rf ~"\n')
    cfg = write_config(tmp_path / "c.toml", sweep={"output": str(tmp_path / "sw")})
    assert main(["run", str(cfg), "--backend", "slurm", "--profile", str(bad)]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and not (tmp_path / "sw").exists()
    assert cap.err.strip() == (f"mrsweep run: error: {bad}: partition: 'debug; rm -rf ~' is not a partition name "
                               "(letters, digits, _ . -; comma separated); refusing it (profiles are shell-safe)")
    assert main(["run", str(cfg), "--backend", "foo"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and not (tmp_path / "sw").exists()
    assert cap.err.strip() == "mrsweep run: error: --backend: expected one of debug, local, slurm, got 'foo'"


def test_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    """`mrsweep status SWEEP | head -3`: the reader is gone before we write; exit 141, no traceback."""
    cfg = write_config(tmp_path / "c.toml", sweep={"output": str(tmp_path / "sw")})
    assert main(["plan", str(cfg)]) == 0
    proc = subprocess.Popen([*MRSWEEP, "status", str(tmp_path / "sw"), "-v"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
    proc.stdout.close()  # closed before the child (still importing) prints a line
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 141
    assert err == ""


def test_resume_and_plot_know_whether_the_aggregate_is_current(tmp_path: Path, capsys) -> None:
    cfg = write_config(tmp_path / "c.toml", sweep={"output": str(tmp_path / "sw")}, epsilon=(0.0, 0.5))
    sweep = tmp_path / "sw"
    assert main(["run", str(cfg), "-q"]) == 0
    assert "next: mrsweep aggregate" in capsys.readouterr().out
    assert main(["aggregate", str(sweep)]) == 0
    capsys.readouterr()
    assert main(["resume", str(sweep), "-q"]) == 0
    assert "aggregate is up to date" in capsys.readouterr().out
    shard = next((sweep / "shards").glob("*.nc"))
    t = (sweep / "aggregate" / "curves.nc").stat().st_mtime_ns + 10**9
    os.utime(shard, ns=(t, t))  # a shard rewritten after the aggregate
    assert main(["plot", str(sweep), "--format", "png"]) == 0
    assert f"warning: curves.nc is older than {shard.name}" in capsys.readouterr().err
    assert main(["resume", str(sweep), "-q"]) == 0
    assert "next: mrsweep aggregate" in capsys.readouterr().out


def test_output_flag_with_a_sweep_folder_is_refused(tmp_path: Path, capsys) -> None:
    sweep = tmp_path / "sw"
    assert main(["run", str(write_config(tmp_path / "c.toml", sweep={"output": str(sweep)}, epsilon=(0.0,))), "-q"]) == 0
    capsys.readouterr()
    assert main(["aggregate", str(sweep), "-o", str(tmp_path / "elsewhere")]) == 2
    err = capsys.readouterr().err
    assert "--output" in err and "only with a config .toml" in err and "Traceback" not in err
    assert not (tmp_path / "elsewhere").exists() and not (sweep / "aggregate").exists()
    assert main(["aggregate", str(sweep), "-o", str(sweep)]) == 0  # naming the folder itself is fine


def test_status_of_a_changed_config_names_what_changed(tmp_path: Path, capsys) -> None:
    cfg = write_config(tmp_path / "c.toml", sweep={"output": str(tmp_path / "sw")}, epsilon=(0.0,))
    assert main(["plan", str(cfg)]) == 0
    write_config(tmp_path / "c.toml", sweep={"output": str(tmp_path / "sw"), "trials": 4}, epsilon=(0.0,))
    capsys.readouterr()
    assert main(["status", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "changed since it was planned: sweep.trials" in err and "Traceback" not in err
    assert main(["status", str(tmp_path / "sw")]) == 0  # the folder still shows the old sweep
