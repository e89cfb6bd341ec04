"""Run shards without submitit: the entry point of slurm_templates/sbatch/array.sbatch.

    python -m jobs.run_shard SWEEP_DIR --index I     # run shard number I of the manifest
    python -m jobs.run_shard SWEEP_DIR --shard shard-00012
    python -m jobs.run_shard SWEEP_DIR --sbatch-commands [--profile local]
    python -m jobs.run_shard SWEEP_DIR --sbatch-submit [--profile local]

``--index`` counts shards in manifest order (0-based), so an array task runs
``--index $((OFFSET + SLURM_ARRAY_TASK_ID))``. A shard whose file is already done is not
rerun. ``--sbatch-commands`` prints one ``sbatch --array=...`` line per array, split at the
cluster's MaxArraySize, with the profile's (validated) options and every value quoted;
``--sbatch-submit`` runs those lines and records every array task's job id in
``jobs.jsonl`` at once (so `status` sees pending tasks too, and `resume` never resubmits them).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from modelrepair.errors import UserError

TEMPLATE = Path(__file__).resolve().parents[1] / "slurm_templates" / "sbatch" / "array.sbatch"


@dataclass(frozen=True)
class SbatchArray:
    """One plain ``sbatch`` array: shards ``offset .. offset + count - 1`` of the manifest."""

    offset: int
    count: int
    argv: list[str]


def sbatch_log_folder(sweep_dir: Path) -> Path:
    """Where plain-sbatch tasks write their log pairs (and what jobs.jsonl records for them)."""
    return Path(sweep_dir).absolute() / "logs" / "sbatch"


def sbatch_arrays(sweep_dir: Path, profile_name: str = "local", template: Path = TEMPLATE) -> list[SbatchArray]:
    """The ``sbatch`` arrays that run every shard of the sweep, split at MaxArraySize."""
    from jobs.executors.slurm import SlurmBackend
    from jobs.manifest import load_manifest

    sweep_dir = Path(sweep_dir).absolute()
    manifest = load_manifest(sweep_dir)
    check_task_python(manifest)
    n = len(manifest.shards)
    backend = SlurmBackend.from_config({"profile": profile_name})
    size, prof = backend.max_array_size, backend.profile
    logs = sbatch_log_folder(sweep_dir)
    logs.mkdir(parents=True, exist_ok=True)  # Slurm does not create log folders
    out = []
    for offset in range(0, n, size):
        count = min(size, n - offset)
        # log names as submitit's (<job id>_0_log.err): `status` finds the tail of a failed task
        opts = [f"--array=0-{count - 1}%{min(count, prof.array_parallelism)}", "--job-name=mrsweep",
                f"--output={logs}/%A_%a_0_log.out", f"--error={logs}/%A_%a_0_log.err",
                f"--export=ALL,MRSWEEP_PYTHON={sys.executable}", *prof.sbatch_options()]
        out.append(SbatchArray(offset, count, ["sbatch", *opts, str(template), str(sweep_dir), str(offset)]))
    return out


def sbatch_commands(sweep_dir: Path, profile_name: str = "local", template: Path = TEMPLATE) -> list[str]:
    """``sbatch`` lines (every value quoted) that run every shard of the sweep as plain arrays."""
    return [shlex.join(a.argv) for a in sbatch_arrays(sweep_dir, profile_name, template)]


#: modules every shard imports (to compute cells and to write its netCDF file)
TASK_MODULES = ("numpy", "scipy", "xarray", "netCDF4", "highspy")
TORCH_KINDS = {"twolayer", "cnn"}  # trained in torch; external ones only for .pt files


def check_task_python(manifest) -> None:  # noqa: ANN001
    """The array tasks run this interpreter (MRSWEEP_PYTHON): it must import what a shard needs,
    or every task would compute its cells and then fail to write them."""
    import importlib.util

    need = list(TASK_MODULES)
    kinds = {str(m.spec.get("kind", "")) for m in manifest.models}
    torch_files = any(manifest.spec(m.name).resolved_format == "torch" for m in manifest.models
                      if m.spec.get("kind") == "external")
    if kinds & TORCH_KINDS or torch_files:
        need.append("torch")
    missing = [name for name in need if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"{sys.executable} cannot import {', '.join(missing)}, which every shard needs; run this "
                        "with the project's environment, e.g. .venv/bin/python -m jobs.run_shard ...")


def sbatch_submit(sweep_dir: Path, profile_name: str = "local") -> list[str]:
    """Submit the `sbatch_arrays`; record every task's job id; return the array ids."""
    import subprocess

    from jobs.manifest import load_manifest

    manifest = load_manifest(sweep_dir)
    array_ids: list[str] = []
    for array in sbatch_arrays(sweep_dir, profile_name):
        res = subprocess.run([array.argv[0], "--parsable", *array.argv[1:]], capture_output=True, text=True,
                             check=False)
        array_id = res.stdout.strip().split(";")[0]
        if res.returncode != 0 or not array_id.isdigit():
            msg = (res.stderr or res.stdout).strip().replace("\n", " ")
            raise UserError(f"sbatch refused array {len(array_ids) + 1} ({len(array_ids)} submitted, recorded): {msg}")
        for i in range(array.count):
            _record_task(sweep_dir, manifest.shards[array.offset + i].shard_id, f"{array_id}_{i}", manifest.hash)
        array_ids.append(array_id)
    return array_ids


def record_array_task(sweep_dir: Path, shard_id: str, manifest_hash: str) -> None:
    """Inside a Slurm array task: append this task to jobs.jsonl, so `status` sees the shard
    running (and `resume` does not submit it twice) and, if it dies, shows its state and log."""
    array_id, task_id = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    if array_id and task_id and array_id.isdigit() and task_id.isdigit():
        _record_task(sweep_dir, shard_id, f"{array_id}_{task_id}", manifest_hash)


def _record_task(sweep_dir: Path, shard_id: str, job_id: str, manifest_hash: str) -> None:
    from jobs.executors.base import SubmittedJob, now_iso, record_jobs

    record_jobs(sweep_dir, [SubmittedJob(shard_id, "slurm", job_id, str(sbatch_log_folder(sweep_dir)), now_iso(),
                                         manifest_hash)])


def run_index(sweep_dir: Path, index: int | None, shard_id: str | None) -> Path:
    from jobs.manifest import load_manifest
    from jobs.shard import run_shard

    manifest = load_manifest(sweep_dir)
    if shard_id is None:
        if index is None or not 0 <= index < len(manifest.shards):
            raise UserError(f"--index {index}: the sweep in {sweep_dir} has shards 0..{len(manifest.shards) - 1}")
        shard_id = manifest.shards[index].shard_id
    import netCDF4  # noqa: F401 - fail now, not after computing every cell, if the writer cannot load
    import xarray  # noqa: F401

    print(f"[mrsweep] running {shard_id} of {sweep_dir}", flush=True)
    record_array_task(sweep_dir, shard_id, manifest.hash)
    path = run_shard(sweep_dir, shard_id)
    print(f"[mrsweep] {shard_id}: wrote {path}", flush=True)
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m jobs.run_shard", description=__doc__.split("\n")[0])
    p.add_argument("sweep_dir", type=Path)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--index", type=int, help="shard number in manifest order (0-based)")
    g.add_argument("--shard", help="shard id, e.g. shard-00012")
    g.add_argument("--sbatch-commands", action="store_true", help="print the sbatch lines for the whole sweep")
    g.add_argument("--sbatch-submit", action="store_true",
                   help="run those sbatch lines and record every task's job id in jobs.jsonl")
    p.add_argument("--profile", default="local", help="profile for --sbatch-commands/--sbatch-submit (name or .toml path)")
    args = p.parse_args(argv)
    try:
        if args.sbatch_commands:
            print("\n".join(sbatch_commands(args.sweep_dir, args.profile)))
        elif args.sbatch_submit:
            arrays = sbatch_submit(args.sweep_dir, args.profile)
            print(f"submitted {len(arrays)} array(s): {', '.join(arrays)}; follow with `mrsweep status {args.sweep_dir}`")
        else:
            run_index(args.sweep_dir, args.index, args.shard)
    except UserError as err:
        print(f"jobs.run_shard: error: {err}", file=sys.stderr)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
