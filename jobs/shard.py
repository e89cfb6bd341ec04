"""The shard runner: fit the shard's model once, repair each cell, write one netCDF file.

`ShardRunner` keeps its state as the outcomes of finished cells, so it can checkpoint:
``save_partial()`` writes them (same schema, same manifest hash) to
``<sweep_dir>/partial/<shard_id>.nc``; a new runner for that shard starts from there.
`ShardTask` is the picklable callable executors run; ``ShardTask.checkpoint`` follows
submitit's ``Checkpointable`` protocol, so a Slurm backend can use
``class T(ShardTask, submitit.helpers.Checkpointable)`` to requeue without losing work.

Cell exceptions become status "error" with the message; a solver failure is
"solver_failed" (decided by the model). A failure to fit the model fails the whole job.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from jobs.manifest import Manifest, load_manifest
from jobs.model_cache import load_or_fit
from jobs.plan import Cell, cell_seed
from jobs.shard_io import (
    build_dataset,
    check_shard_file,
    partial_path,
    read_partial,
    shard_path,
    write_dataset,
)
from modelrepair.models import FittedModel, RepairSettings
from modelrepair.outcome import CellOutcome


def run_cell(model: FittedModel, cell: Cell, key: int, sweep_seed: int, settings: RepairSettings) -> CellOutcome:
    """Corrupt and repair once with the cell's own random stream; exceptions -> "error"."""
    rng = np.random.default_rng(cell_seed(sweep_seed, key, cell.eps_index, cell.trial))
    try:
        return model.repair_cell(cell.epsilon, rng, settings)
    except Exception as err:  # noqa: BLE001 - a cell's failure is a result, not a crash
        return CellOutcome((), "error", 0.0, float("nan"), f"{type(err).__name__}: {err}")


class ShardRunner:
    """Runs one shard; ``finished`` (cell_id -> outcome) is all its state."""

    def __init__(self, sweep_dir: str | Path, shard_id: str, manifest: Manifest | None = None,
                 partial_every_s: float = 300.0) -> None:
        self.sweep_dir = Path(sweep_dir)
        self.manifest = manifest or load_manifest(self.sweep_dir)
        self.shard = self.manifest.shard(shard_id)
        self.cells = self.manifest.cells(self.shard)
        self.finished: dict[int, CellOutcome] = {}
        self.partial_every_s = partial_every_s
        self.resumed_cells = 0

    @property
    def path(self) -> Path:
        return shard_path(self.sweep_dir, self.shard.shard_id)

    def _dataset(self, cells: list[Cell]):
        m = self.manifest
        name = self.shard.model
        return build_dataset(
            cells, [self.finished[c.cell_id] for c in cells], sweep_name=m.sweep_name, manifest_hash=m.hash,
            shard_id=self.shard.shard_id, model_specs={name: m.model(name).spec}, solver=m.settings().solver,
            diagnosis={name: m.diagnosis[name]} if name in m.diagnosis else None,
        )

    def save_partial(self) -> Path | None:
        """Write finished cells to partial/<shard_id>.nc atomically (nothing if none)."""
        cells = [c for c in self.cells if c.cell_id in self.finished]
        if not cells:
            return None
        return write_dataset(self._dataset(cells), partial_path(self.sweep_dir, self.shard.shard_id))

    def load_partial(self) -> int:
        """Adopt cells from a partial file of this manifest and shard; returns how many."""
        path = partial_path(self.sweep_dir, self.shard.shard_id)
        if not path.is_file():
            return 0
        got = read_partial(path, self.manifest.hash, self.shard.shard_id, {c.cell_id for c in self.cells})
        self.finished.update(got)
        self.resumed_cells = len(got)
        return len(got)

    def run(self) -> Path:
        """Run every unfinished cell and write the shard file; returns its path."""
        if check_shard_file(self.path, self.manifest.hash, self.shard.shard_id, [c.cell_id for c in self.cells]).done:
            return self.path
        self.load_partial()
        todo = [c for c in self.cells if c.cell_id not in self.finished]
        m = self.manifest
        settings = m.settings()
        if todo:
            spec = m.spec(self.shard.model)
            model = load_or_fit(spec, m.fit_seed(spec.name), self.sweep_dir / "models")
            key = m.model(spec.name).key
            last_save = time.monotonic()
            for cell in todo:
                self.finished[cell.cell_id] = run_cell(model, cell, key, m.seed, settings)
                if time.monotonic() - last_save > self.partial_every_s:
                    self.save_partial()
                    last_save = time.monotonic()
        write_dataset(self._dataset(self.cells), self.path)
        partial_path(self.sweep_dir, self.shard.shard_id).unlink(missing_ok=True)
        return self.path


class ShardTask:
    """Picklable callable run by executors: ``ShardTask()(sweep_dir, shard_id) -> path``."""

    def __init__(self) -> None:
        self.runner: ShardRunner | None = None

    def __call__(self, sweep_dir: str, shard_id: str) -> str:
        self.runner = ShardRunner(sweep_dir, shard_id)
        return str(self.runner.run())

    def checkpoint(self, sweep_dir: str, shard_id: str) -> Any:
        """submitit hook on timeout/preemption: save finished cells, resubmit a fresh task."""
        import submitit

        if self.runner is not None:
            self.runner.save_partial()
        return submitit.helpers.DelayedSubmission(type(self)(), sweep_dir, shard_id)

    def __getstate__(self) -> dict[str, Any]:
        return {"runner": None}


def run_shard(sweep_dir: str | Path, shard_id: str) -> Path:
    """Run one shard in this process (what every job does)."""
    return ShardRunner(sweep_dir, shard_id).run()
