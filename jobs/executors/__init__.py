"""Execution backends behind one interface (`jobs.executors.base.Backend`).

``BACKENDS`` maps a config's ``executor.backend`` to ``module:Class``; modules load lazily,
so a backend whose module is absent (or needs a missing tool) fails only when chosen.
Adding a backend is one line here plus its module.
"""

from __future__ import annotations

import importlib

from jobs.executors.base import Backend, SubmittedJob, Task, latest_jobs, read_jobs, run_shard_task
from modelrepair.errors import SpecError

BACKENDS: dict[str, str] = {
    "local": "jobs.executors.local:LocalBackend",
    "debug": "jobs.executors.debug:DebugBackend",
    "slurm": "jobs.executors.slurm:SlurmBackend",
}


def backend_names() -> list[str]:
    return sorted(BACKENDS)


def backend_class(name: str, field: str = "executor.backend") -> type[Backend]:
    """The Backend class registered as ``name``; SpecError naming ``field`` otherwise."""
    if name not in BACKENDS:
        raise SpecError(field, f"expected one of {', '.join(backend_names())}, got {name!r}")
    module, _, cls = BACKENDS[name].partition(":")
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module:
            raise SpecError(field, f"backend {name!r} is not installed ({module} missing)") from None
        raise
    return getattr(mod, cls)


def get_backend(name: str, options: dict | None = None) -> Backend:
    """An instance of backend ``name`` configured from its ``[executor]`` options."""
    return backend_class(name).from_config(options or {})


__all__ = [
    "BACKENDS",
    "Backend",
    "SubmittedJob",
    "Task",
    "backend_class",
    "backend_names",
    "get_backend",
    "latest_jobs",
    "read_jobs",
    "run_shard_task",
]
