"""Config validation: each error class names its key, exits 2, no traceback, writes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from jobs_testkit import MRSWEEP, REPO, write_config

from jobs.cli import main
from jobs.config import expand_epsilon, load_config
from modelrepair.errors import SpecError

LIN = {"name": "a", "kind": "linear", "design": {"source": "gaussian", "n": 10, "p": 40}}

# (case id, config kwargs or raw text, expected fragment of the one-line message)
CASES = [
    ("eps_out_of_range", {"epsilon": [0.0, 0.1, 0.2, 1.2]}, "grid.epsilon[3]: must be in [0, 1], got 1.2"),
    ("empty_grid", {"epsilon": []}, "grid.epsilon: must not be empty"),
    ("eps_not_number", {"epsilon": [0.0, "x"]}, "grid.epsilon[1]: expected a number, got 'x'"),
    ("unknown_table", {"extra": "[sweeep]\nname = 'x'\n"}, "sweeep: unknown table or key"),
    ("unknown_sweep_key", {"sweep": {"trails": 5}}, "sweep.trails: unknown key"),
    ("wrong_type", {"sweep": {"trials": "20"}}, "sweep.trials: expected an integer, got '20'"),
    ("zero_trials", {"sweep": {"trials": 0}}, "sweep.trials: must be a positive integer, got 0"),
    ("zero_shard_size", {"sweep": {"cells_per_shard": -1}}, "sweep.cells_per_shard: must be a positive integer, got -1"),
    ("negative_seed", {"sweep": {"seed": -1}}, "sweep.seed: must be in [0, 4294967295], got -1"),
    ("zero_n", {"models": [{**LIN, "design": {"source": "gaussian", "n": 0, "p": 40}}]}, "models[0].design.n: must be a positive integer, got 0"),
    ("duplicate_names", {"models": [LIN, {**LIN, "design": {"source": "gaussian", "n": 10, "p": 50}}]}, "models[1].name: duplicate model name 'a' (also models[0])"),
    ("unknown_kind", {"models": [{**LIN, "kind": "lineer"}]}, "models[0].kind: expected one of"),
    ("unknown_model_key", {"models": [{**LIN, "layers": 3}]}, "models[0].layers: unknown key"),
    ("missing_data", {"models": [{"name": "c", "kind": "linear", "design": {"source": "colon", "p": 20, "data": "nowhere/X.csv"}}]}, "X.csv: design (X) file not found; fix the path in the config or pass --data-dir DIR"),
    ("no_models", {"models": []}, "models: no [[models]] table"),
    ("bad_solver", {"repair": {"solver": "magic"}}, "repair.solver: unknown LAD solver 'magic'"),
    ("bad_mode", {"repair": {"mode": "fast"}}, "repair.mode: expected one of 'full', 'early_stop', got 'fast'"),
    ("bad_tolerance", {"repair": {"tolerance": 0}}, "repair.tolerance: must be > 0, got 0.0"),
    ("bad_corruption", {"extra": "[corruption]\nsd = -1.0\n"}, "corruption.sd: must be >= 0, got -1.0"),
    ("bad_backend", {"executor": {"backend": "cloud"}}, "executor.backend: expected one of"),
    ("bad_executor_key", {"executor": {"backend": "local", "wrokers": 2}}, "executor.wrokers: unknown key"),
    ("bad_workers", {"executor": {"backend": "local", "workers": 0}}, "executor.workers: must be a positive integer, got 0"),
]
#: one subprocess each for these error classes; the rest run through main() in-process
SUBPROCESS = {"eps_out_of_range", "empty_grid", "unknown_table", "wrong_type", "zero_trials", "zero_n",
              "duplicate_names", "missing_data", "bad_solver", "bad_backend"}


def _write(tmp: Path, case: str, kwargs: dict) -> Path:
    path = tmp / case / "sweep.toml"
    if kwargs.get("models") == []:
        write_config(path, models=[])
        return path
    write_config(path, **kwargs)
    return path


def test_each_error_class_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    """All cases run as parallel `mrsweep plan` subprocesses."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = {}
    extra = [("invalid_toml", "[sweep\nname = 1\n", "invalid TOML"),
             ("eps_range_step", "[grid]\nepsilon = {start = 0.0, stop = 1.0, step = 0.0}\n[[models]]\nname='a'\nkind='linear'\n",
              "grid.epsilon.step: must be > 0, got 0.0")]
    for case, kwargs, _ in CASES:
        if case not in SUBPROCESS:
            continue
        cfg = _write(tmp_path, case, kwargs)
        procs[case] = subprocess.Popen([*MRSWEEP, "plan", str(cfg), "-o", str(cfg.parent / "out")], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for case, text, _ in extra:
        cfg = tmp_path / case / "sweep.toml"
        cfg.parent.mkdir()
        cfg.write_text(text)
        procs[case] = subprocess.Popen([*MRSWEEP, "plan", str(cfg), "-o", str(cfg.parent / "out")], env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    expected = {c: e for c, _, e in CASES if c in SUBPROCESS} | {c: e for c, _, e in extra}
    for case, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (case, out, err)
        assert "Traceback" not in err, (case, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, (case, err)
        assert expected[case] in lines[0], (case, lines[0])
        assert "sweep.toml: " in lines[0], (case, lines[0])
        assert not (tmp_path / case / "out").exists(), case


@pytest.mark.parametrize("case,kwargs,expected", [pytest.param(*c, id=c[0]) for c in CASES if c[0] not in SUBPROCESS])
def test_error_class_in_process(tmp_path: Path, capsys, case: str, kwargs: dict, expected: str) -> None:
    cfg = _write(tmp_path, case, kwargs)
    rc = main(["plan", str(cfg), "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and expected in err[0] and f"{cfg}: " in err[0]
    assert not (tmp_path / "out").exists()


def test_valid_config_values(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "ok.toml", sweep={"name": "", "trials": 7}, executor={"backend": "local", "workers": 3})
    c = load_config(cfg)
    assert c.name == "ok"  # defaults to the file stem
    assert c.sweep.trials == 7 and c.sweep.seed == 3 and c.sweep.cells_per_shard == 4
    assert c.epsilon == (0.0, 0.3, 0.6, 0.9)
    assert [m.name for m in c.models] == ["p40", "p80"]
    assert c.models[1].design.p == 80
    assert c.executor.backend == "local" and c.executor.options["workers"] == 3
    assert c.repair.solver == "highs" and c.repair.tolerance == 1e-6 and c.repair.corruption.mean == 1.0
    assert c.output_dir() == (Path.cwd() / "sweeps" / "ok")


def test_epsilon_range_inclusive_and_rounded() -> None:
    eps = expand_epsilon({"start": 0.0, "stop": 1.0, "step": 0.05})
    assert len(eps) == 21 and eps[0] == 0.0 and eps[-1] == 1.0
    assert eps[3] == 0.15  # not 0.15000000000000002
    assert expand_epsilon([0, 0.5]) == (0.0, 0.5)
    with pytest.raises(SpecError, match=r"grid.epsilon\[1\]: duplicate value 0.5"):
        expand_epsilon([0.5, 0.5])


def test_relative_data_paths_resolve_against_config_folder(tmp_path: Path, colon_paths) -> None:
    x, y = colon_paths
    cfg_dir = tmp_path / "cfgs"
    cfg_dir.mkdir()
    rel_x, rel_y = os.path.relpath(x, cfg_dir), os.path.relpath(y, cfg_dir)
    model = {"name": "c", "kind": "linear", "design": {"source": "colon", "p": 20, "data": rel_x, "labels": rel_y}}
    c = load_config(write_config(cfg_dir / "colon.toml", models=[model]))
    assert c.models[0].design.data == str(x.resolve())
    # --data-dir: files looked up by name in that folder, whatever the configured folder
    model2 = {**model, "design": {"source": "colon", "p": 20, "data": "gone/colon_alon1999_X.csv"}}
    c2 = load_config(write_config(cfg_dir / "moved.toml", models=[model2]), data_dir=x.parent)
    assert c2.models[0].design.data == str(x.resolve())
