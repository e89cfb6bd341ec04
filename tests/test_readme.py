"""The README cannot rot: its commands, config reference and CLI table are executed/checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.config import load_config

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands():
    first = _blocks("bash")[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first] == [
        "bash scripts/quickstart.sh",
        "bash scripts/test.sh",
    ]
    assert README.index("```bash") < README.index("\n## ")  # before any section
    for script in ("scripts/quickstart.sh", "scripts/test.sh", "scripts/setup.sh"):
        assert (REPO / script).is_file(), script
    assert "bash scripts/test.sh" in (REPO / ".ci" / "run").read_text()


def test_config_reference_block_is_a_valid_sweep(tmp_path):
    (ref,) = [b for b in _blocks("toml") if b.lstrip().startswith("[sweep]")]
    cfg = tmp_path / "reference.toml"
    cfg.write_text(ref)
    c = load_config(cfg)
    assert c.name == "linear-small" and c.sweep.trials == 20
    assert c.repair.solver == "batched" and c.repair.mode == "full"
    assert len(c.epsilon) == 21 and c.models[0].design.p == 100


def test_every_command_in_the_cli_table_has_help(capsys):
    commands = re.findall(r"^\| `mrsweep ([a-z-]+)", README, flags=re.M)
    assert {"plan", "run", "status", "resume", "aggregate", "plot"} <= set(commands)
    for cmd in commands:
        with pytest.raises(SystemExit) as exc:
            main([cmd, "--help"])
        assert exc.value.code == 0, cmd
        assert "usage: mrsweep" in capsys.readouterr().out


def test_every_example_config_named_in_the_readme_validates():
    names = set(re.findall(r"`((?:linear|colon|cnn|scaling)[a-z0-9-]*\.toml)`", README))
    assert {"linear-small.toml", "colon-reduced.toml", "cnn-reduced.toml"} <= names
    for name in sorted(names):
        load_config(REPO / "examples" / name)  # raises ConfigError / DataFileError if broken
    for path in REPO.glob("examples/scaling-*.toml"):
        load_config(path)


def test_the_readme_error_example_is_what_users_see(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[grid]\nepsilon = [0.0, 0.1, 0.5, 1.2]\n[[models]]\nname = "a"\nkind = "linear"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "jobs.cli", "plan", str(cfg), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO,
    )
    assert proc.returncode == 2
    line = "mrsweep plan: error: bad.toml: grid.epsilon[3]: must be in [0, 1], got 1.2"
    assert line in README and proc.stderr.strip().endswith(line.split("error: ")[1])
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()
