"""Slurm profiles: shipped profiles load; every field is validated, hostile values rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from jobs.profiles import PROFILE_DIR, load_profile, parse_time_min, profile_from_mapping
from modelrepair.errors import DataFileError, SpecError


def test_shipped_profiles_load() -> None:
    local = load_profile("local")
    assert (local.partition, local.time_min, local.cpus, local.array_parallelism) == ("debug", 10, 1, 4)
    assert local.max_array_size is None and local.max_requeues == 3
    site = load_profile(str(PROFILE_DIR / "example-site.toml"))
    assert site.name == "example-site"
    assert (site.partition, site.account, site.qos, site.time_min, site.mem) == (
        "cpu", "myproject", "normal", 120, "8G")
    assert site.sbatch == (("constraint", "intel"), ("mail-type", "FAIL"))
    params = site.submitit_parameters()
    assert params["time"] == 120 and params["cpus_per_task"] == 4
    assert params["additional_parameters"] == {"mem": "8G", "constraint": "intel", "mail-type": "FAIL"}
    assert site.sbatch_options() == [
        "--time=120", "--cpus-per-task=4", "--partition=cpu", "--mem=8G", "--account=myproject",
        "--qos=normal", "--constraint=intel", "--mail-type=FAIL"]


@pytest.mark.parametrize(("value", "minutes"), [(5, 5), ("00:01:00", 1), ("00:01:01", 2), ("1-00:00:00", 1440)])
def test_time_forms(value: object, minutes: int) -> None:
    assert parse_time_min(value, "t") == minutes


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("partition", "debug; rm -rf ~"),
        ("partition", "debug rm"),
        ("partition", "$(reboot)"),
        ("account", "a`id`"),
        ("qos", "normal|x"),
        ("mem", "8G; ls"),
        ("time", "10; ls"),
        ("time", "1:00"),
        ("cpus", "4"),
        ("cpus", 0),
        ("gpus", True),
        ("array_parallelism", 0),
        ("sbatch", {"constraint": "a&b"}),
        ("sbatch", {"constraint": "x y"}),
        ("sbatch", {"Bad;key": "x"}),
        ("sbatch", {"array": "0-3"}),
        ("sbatch", {"output": "/tmp/x"}),
        ("unknown_key", 1),
    ],
)
def test_hostile_or_bad_values_rejected(field: str, value: object) -> None:
    with pytest.raises(SpecError) as err:
        profile_from_mapping({field: value}, "p.toml")
    assert str(err.value).startswith(f"p.toml.{field}")


def test_hostile_profile_file_and_overrides(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('partition = "debug; rm -rf ~"\n')
    with pytest.raises(SpecError, match=r"bad\.toml: partition: 'debug; rm -rf ~' is not"):
        load_profile(str(bad))
    with pytest.raises(SpecError, match="account"):
        load_profile("local", overrides={"account": "x && y"})
    with pytest.raises(SpecError, match="profile"):
        load_profile("local; rm -rf ~")
    with pytest.raises(DataFileError, match="no such profile"):
        load_profile("nosuchprofile")
