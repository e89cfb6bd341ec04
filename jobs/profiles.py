"""Slurm cluster profiles: TOML files with the site settings a sweep is submitted with.

A profile is found by name in ``slurm_templates/profiles/<name>.toml`` (or the folder named
by ``$MODELREPAIR_PROFILES``), or given as a path to a ``.toml`` file. Every value is
checked against a strict per-field pattern *before* anything is submitted: values end up
in ``#SBATCH`` lines and on ``sbatch`` command lines, so a value such as
``debug; rm -rf ~`` is rejected with a `SpecError` naming the file and field.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelrepair.errors import DataFileError, SpecError

PROFILE_DIR = Path(__file__).resolve().parents[1] / "slurm_templates" / "profiles"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_NAME_LIST = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}(,[A-Za-z0-9][A-Za-z0-9_.\-]{0,63})*")
_MEM = re.compile(r"[0-9]{1,9}[KMGT]?")
_TIME = re.compile(r"(?:(?P<d>[0-9]{1,3})-)?(?P<h>[0-9]{1,3}):(?P<m>[0-5]?[0-9]):(?P<s>[0-5]?[0-9])")
_OPT_KEY = re.compile(r"[a-z][a-z0-9\-]{0,39}")
_OPT_VALUE = re.compile(r"[A-Za-z0-9_.,:=@%+/\-]{0,200}")
# options the backend sets itself (or that would break the log/array layout)
_RESERVED = {
    "array", "output", "error", "job-name", "open-mode", "signal", "wrap", "chdir",
    "time", "partition", "account", "qos", "cpus-per-task", "mem", "gpus-per-node",
    "parsable", "wait", "export", "input", "dependency",
}


@dataclasses.dataclass(frozen=True)
class SlurmProfile:
    """Validated site settings for the Slurm backend.

    time_min: wall-clock limit of one array task (one shard) in minutes; a shard that
    runs longer is checkpointed, requeued and continues (at most ``max_requeues`` times).
    max_array_size: None = read MaxArraySize from ``scontrol show config``.
    sbatch: extra ``--key=value`` options (value "" or true = a bare flag).
    """

    name: str = "default"
    partition: str | None = None
    time_min: int = 60
    cpus: int = 1
    mem: str | None = None
    gpus: int = 0
    account: str | None = None
    qos: str | None = None
    array_parallelism: int = 64
    max_array_size: int | None = None
    max_requeues: int = 3
    poll_interval_s: float = 30.0
    sbatch: tuple[tuple[str, str], ...] = ()

    def submitit_parameters(self) -> dict[str, Any]:
        """Parameters for ``submitit.SlurmExecutor.update_parameters``."""
        params: dict[str, Any] = {
            "time": self.time_min,
            "cpus_per_task": self.cpus,
            "array_parallelism": self.array_parallelism,
            "job_name": f"mrsweep-{self.name}",
        }
        for key in ("partition", "account", "qos"):
            value = getattr(self, key)
            if value:
                params[key] = value
        if self.gpus:
            params["gpus_per_node"] = self.gpus
        extra: dict[str, Any] = {"mem": self.mem} if self.mem else {}
        extra.update({k: (True if v == "" else v) for k, v in self.sbatch})
        if extra:  # submitit's own "mem" expects GB as a number; pass the string as is
            params["additional_parameters"] = extra
        return params

    def sbatch_options(self) -> list[str]:
        """The same settings as ``sbatch`` command-line options (for the plain template)."""
        opts = [f"--time={self.time_min}", f"--cpus-per-task={self.cpus}"]
        for key in ("partition", "mem", "account", "qos"):
            value = getattr(self, key)
            if value:
                opts.append(f"--{key}={value}")
        if self.gpus:
            opts.append(f"--gpus-per-node={self.gpus}")
        opts += [f"--{k}" if v == "" else f"--{k}={v}" for k, v in self.sbatch]
        return opts


def _match(pattern: re.Pattern[str], value: Any, field: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecError(field, f"{value!r} is not {what}; refusing it (profiles are shell-safe)")
    return value


def _int(value: Any, field: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise SpecError(field, f"expected an integer in [{lo}, {hi}], got {value!r}")
    return value


def parse_time_min(value: Any, field: str) -> int:
    """Minutes from an integer or a Slurm time string ``[D-]HH:MM:SS`` (rounded up)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _int(value, field, 1, 525_600)
    m = _TIME.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise SpecError(field, f"expected minutes or 'D-HH:MM:SS', got {value!r}")
    secs = (int(m["d"] or 0) * 24 + int(m["h"])) * 3600 + int(m["m"]) * 60 + int(m["s"])
    return _int(-(-secs // 60), field, 1, 525_600)


def profile_from_mapping(data: Mapping[str, Any], where: str, name: str = "default") -> SlurmProfile:
    """Validate a profile table; errors name ``where.<field>`` (just ``<field>`` if ``where`` is "")."""
    where = f"{where}." if where else ""
    fields = {f.name for f in dataclasses.fields(SlurmProfile)} - {"name"} | {"time"}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise SpecError(f"{where}{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(fields))})")
    kw: dict[str, Any] = {"name": name}
    if "time" in data and "time_min" in data:
        raise SpecError(f"{where}time", "give either time or time_min, not both")
    for key in ("time", "time_min"):
        if key in data:
            kw["time_min"] = parse_time_min(data[key], f"{where}{key}")
    if "partition" in data:
        kw["partition"] = _match(_NAME_LIST, data["partition"], f"{where}partition",
                                 "a partition name (letters, digits, _ . -; comma separated)")
    for key in ("account", "qos"):
        if key in data:
            kw[key] = _match(_NAME, data[key], f"{where}{key}", "a name (letters, digits, _ . -)")
    if "mem" in data:
        kw["mem"] = _match(_MEM, data["mem"], f"{where}mem", "a memory size such as 4G or 500M")
    if "cpus" in data:
        kw["cpus"] = _int(data["cpus"], f"{where}cpus", 1, 4096)
    if "gpus" in data:
        kw["gpus"] = _int(data["gpus"], f"{where}gpus", 0, 64)
    if "array_parallelism" in data:
        kw["array_parallelism"] = _int(data["array_parallelism"], f"{where}array_parallelism", 1, 100_000)
    if "max_array_size" in data:
        kw["max_array_size"] = _int(data["max_array_size"], f"{where}max_array_size", 2, 10_000_000)
    if "max_requeues" in data:
        kw["max_requeues"] = _int(data["max_requeues"], f"{where}max_requeues", 0, 100)
    if "poll_interval_s" in data:
        v = data["poll_interval_s"]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.5 <= v <= 3600:
            raise SpecError(f"{where}poll_interval_s", f"expected seconds in [0.5, 3600], got {v!r}")
        kw["poll_interval_s"] = float(v)
    if "sbatch" in data:
        kw["sbatch"] = _sbatch_options(data["sbatch"], f"{where}sbatch")
    return SlurmProfile(**kw)


def _sbatch_options(table: Any, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, Mapping):
        raise SpecError(where, f"expected a table of sbatch options, got {table!r}")
    out = []
    for key, value in sorted(table.items()):
        field = f"{where}.{key}"
        _match(_OPT_KEY, key, field, "an sbatch long option name (lower case, digits, -)")
        if key in _RESERVED:
            raise SpecError(field, "is set by the backend or its own profile field; remove it here")
        if value is True:
            value = ""
        elif isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        _match(_OPT_VALUE, value, field, "a plain option value (letters, digits, _ . , : = @ % + / -)")
        out.append((key, value))
    return tuple(out)


def find_profile(name_or_path: str) -> Path:
    """Path of a profile given by name (``local``) or by path (``site/my.toml``)."""
    if name_or_path.endswith(".toml") or os.sep in name_or_path:
        path = Path(name_or_path).expanduser()
    else:
        _match(_NAME, name_or_path, "profile", "a profile name or a path to a .toml file")
        folder = Path(os.environ.get("MODELREPAIR_PROFILES", PROFILE_DIR))
        path = folder / f"{name_or_path}.toml"
        if not path.is_file():
            known = sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []
            raise DataFileError(path, f"no such profile (known: {', '.join(known) or 'none'})")
    if not path.is_file():
        raise DataFileError(path, "profile file not found")
    return path


def load_profile(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> SlurmProfile:
    """Read, merge ``overrides`` (e.g. from the sweep config) and validate a profile."""
    path = find_profile(name_or_path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise DataFileError(path, f"cannot read profile: {err}") from None
    data = dict(data)
    if overrides:
        data.update(overrides)
    try:
        return profile_from_mapping(data, "", name=path.stem)
    except SpecError as err:  # ``prof.toml: partition: ...`` like the config errors
        raise SpecError(f"{path}: {err.field}", str(err).split(": ", 1)[1]) from None
