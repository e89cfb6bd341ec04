"""``mrsweep plan | run | status | resume``: the sweep life cycle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelrepair.errors import UserError

CONFIG_HELP = "sweep config (.toml); see examples/ and the README's config reference"


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="look data files up in this folder (by file name) instead of the config's paths")
    p.add_argument("--output", "-o", help="sweep folder (default: sweep.output, else sweeps/<name>, relative to the current folder)")


def _add_exec(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", help="execution backend overriding [executor] backend (local, debug, slurm)")
    p.add_argument("--workers", type=int, help="local backend: parallel processes (overrides [executor] workers)")
    p.add_argument("--profile", help="slurm backend: cluster profile name (slurm_templates/profiles/) or .toml path (overrides [executor] profile)")
    p.add_argument("--no-wait", action="store_true", help="submit and return (cluster backends); check with `mrsweep status`")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "plan", help="validate a config and write the sweep's manifest",
        description="Validate CONFIG, expand the grid (model x eps x trial) into shards and write "
        "<sweep>/manifest.json. Nothing runs. Re-planning an unchanged config is a no-op.",
    )
    p.add_argument("config", help=CONFIG_HELP)
    _add_common(p)
    p.add_argument("--new", action="store_true", help="if the folder holds a different sweep, move it to superseded/ and start over")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "run", help="plan (if needed), run every unfinished shard and wait",
        description="Plan CONFIG if needed, submit the shards that are not done, and wait with a "
        "progress bar. Re-running on a finished sweep does nothing. --default runs the embedded "
        "default sweep (synthetic linear models) and aggregates it into curves and figures.",
    )
    p.add_argument("config", nargs="?", help=CONFIG_HELP)
    p.add_argument("--default", action="store_true", help="run the embedded default sweep, then aggregate and plot it")
    _add_common(p)
    _add_exec(p)
    p.add_argument("--new", action="store_true", help="if the folder holds a different sweep, move it to superseded/ and start over")
    p.add_argument("--force", action="store_true", help="rerun every shard, even finished ones")
    p.add_argument("--aggregate", action="store_true", help="aggregate and plot when all shards are done")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "status", help="per-model shard progress, failures and what resume would run",
        description="Check every shard file (done rule of the shard schema) and the latest job of "
        "each unfinished shard: done / running / failed / stale / missing per model, the last log "
        "lines of failed shards, and what `resume` would run.",
    )
    p.add_argument("sweep", help="sweep folder (or its config .toml)")
    _add_common(p)
    p.add_argument("--verbose", "-v", action="store_true", help="list every unfinished shard")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "resume", help="run only missing, failed or stale shards",
        description="Run the shards whose file is missing, unreadable or from another manifest, "
        "and those whose job failed. Shards still running are left alone. --force reruns all.",
    )
    p.add_argument("sweep", help="sweep folder (or its config .toml)")
    _add_common(p)
    _add_exec(p)
    p.add_argument("--force", action="store_true", help="rerun every shard that is not running, even finished ones")
    p.add_argument("--aggregate", action="store_true", help="aggregate and plot when all shards are done")
    p.set_defaults(func=cmd_resume)


def _load(args: argparse.Namespace):
    from jobs.config import load_config, load_default_config

    if getattr(args, "default", False):
        if args.config:
            raise UserError("give either a CONFIG or --default, not both")
        return load_default_config(data_dir=args.data_dir)
    if not args.config:
        raise UserError("give a CONFIG file (e.g. examples/linear-small.toml) or --default")
    return load_config(args.config, data_dir=args.data_dir)


def cmd_plan(args: argparse.Namespace) -> int:
    from jobs.sweepdir import prepare_sweep

    config = _load(args)
    sweep_dir = config.output_dir(args.output)
    manifest, what = prepare_sweep(config, sweep_dir, new=args.new)
    print(f"{what}: sweep {manifest.sweep_name!r} in {sweep_dir}")
    print(f"  manifest {manifest.hash[:12]}: {len(manifest.models)} model(s) x {len(manifest.grid.epsilon)} eps x "
          f"{manifest.grid.trials} trials = {manifest.grid.n_cells} cells in {len(manifest.shards)} shards")
    kinds = ", ".join(f"{m.name} ({m.spec.get('kind', '?')})" for m in manifest.models[:6])
    print(f"  models: {kinds}" + (f", ... (+{len(manifest.models) - 6})" if len(manifest.models) > 6 else ""))
    ex = dict(manifest.executor)
    opts = ", ".join(f"{k} = {v}" for k, v in sorted(ex.items()) if k != "backend" and v not in (None, {}, ""))
    print(f"  backend: {ex.get('backend', 'local')}" + (f" ({opts})" if opts else "")
          + "; change it with --backend/--profile when you run")
    print(f"next: mrsweep run {args.config}" + (f" -o {args.output}" if args.output else ""))
    return 0


def _backend(manifest, args: argparse.Namespace, config=None):
    """The backend to use: --backend, else the config's [executor] (else the manifest's).

    Builds and validates the backend (its name, --workers, --profile and the profile file),
    so callers run it before planning: a bad backend or profile writes nothing.
    """
    from dataclasses import asdict, fields

    from jobs.executors import backend_class

    if config is not None:
        executor = {"backend": config.executor.backend, **dict(config.executor.options)}
    else:
        executor = manifest.executor
    name = args.backend or executor.get("backend", "local")
    options = {k: v for k, v in executor.items() if k != "backend"} if name == executor.get("backend") else {}
    cls = backend_class(name, "--backend")
    if args.workers is not None:
        if "workers" not in {f.name for f in fields(cls.Options)}:
            raise UserError(f"--workers does not apply to backend {name!r}")
        options["workers"] = args.workers
    if getattr(args, "profile", None):
        if "profile" not in {f.name for f in fields(cls.Options)}:
            raise UserError(f"--profile does not apply to backend {name!r} (only to slurm)")
        options["profile"] = args.profile
    opts = cls.validate_options(options, "executor")
    if args.no_wait and cls(opts).max_concurrent() is not None:
        raise UserError(f"--no-wait needs a cluster backend; {name!r} runs its shards from this process")
    return cls(opts), asdict(opts)


def _execute(sweep_dir: Path, manifest, args: argparse.Namespace, force: bool, backend) -> tuple[int, bool]:
    """Run what is not done with ``backend``; returns (exit code, whether every shard is now done)."""
    from aggregate.schema import SHARDS_DIRNAME, TMP_MARKER
    from jobs.driver import execute
    from jobs.shard_io import partial_path, shard_path
    from jobs.status import sweep_status

    st = sweep_status(sweep_dir, manifest, {backend.name: backend}, with_logs=False)
    todo = st.to_resume(force=force)
    running = st.ids("running")
    n = len(manifest.shards)
    follow = getattr(args, "aggregate", False) or getattr(args, "default", False)
    busy = set(running)  # temp files of killed writers: every shard's but those still running
    for leftover in (sweep_dir / SHARDS_DIRNAME).glob(f"*{TMP_MARKER}*"):
        if leftover.name.split(TMP_MARKER)[0] not in busy:
            leftover.unlink(missing_ok=True)
    if not todo:
        if running:
            print(f"nothing submitted: {len(running)} shard(s) still running, {n - len(running)} done ({sweep_dir})")
            if follow and not args.no_wait:
                return _wait_for_earlier(sweep_dir, manifest, backend, running, args.quiet)
            return 0, False
        print(f"nothing to do: all {n} shards of sweep {manifest.sweep_name!r} are done ({sweep_dir})")
        return 0, True
    if running:
        print(f"{len(running)} shard(s) still running are left alone")
    for sid in todo:
        if force:  # the runner skips shards whose file is done: remove them first
            shard_path(sweep_dir, sid).unlink(missing_ok=True)
            partial_path(sweep_dir, sid).unlink(missing_ok=True)
    print(f"running {len(todo)} of {n} shards of sweep {manifest.sweep_name!r} with backend {backend.name!r} ({sweep_dir})")
    report = execute(sweep_dir, manifest, backend, todo, wait=not args.no_wait, progress=not args.quiet)
    if args.no_wait:
        print(f"submitted {len(report.submitted)} shard(s); follow with `mrsweep status {sweep_dir}`")
        return 0, False
    print(f"{len(report.done)} shard(s) done, {len(report.failed)} failed in {report.seconds:.1f} s")
    if report.still_running:
        print(f"{len(report.still_running)} shard(s) not finished when waiting stopped; `mrsweep status {sweep_dir}`")
        return (1 if report.failed else 0), False
    if report.failed:
        print(f"see `mrsweep status {sweep_dir}` for their logs; `mrsweep resume {sweep_dir}` reruns them")
        return 1, False
    if running and follow:
        return _wait_for_earlier(sweep_dir, manifest, backend, running, args.quiet)
    return 0, not running


def _wait_for_earlier(sweep_dir: Path, manifest, backend, running: list[str], quiet: bool) -> tuple[int, bool]:
    """Wait (for --aggregate) until the shards submitted by an earlier command have ended."""
    import time

    from tqdm import tqdm

    from jobs.status import sweep_status

    print(f"waiting for {len(running)} shard(s) submitted earlier")
    with tqdm(total=len(running), unit="shard", desc="earlier", disable=quiet, file=sys.stderr) as bar:
        while True:
            st = sweep_status(sweep_dir, manifest, {backend.name: backend}, with_logs=False)
            still = set(st.ids("running"))
            left = [sid for sid in running if sid in still]
            bar.update(len(running) - len(left) - bar.n)
            if not left:
                break
            time.sleep(backend.poll_interval_s)
    todo = set(st.to_resume())
    failed = [sid for sid in running if sid in todo]
    if failed:
        print(f"{len(failed)} shard(s) submitted earlier did not finish; see `mrsweep status {sweep_dir}`, "
              f"`mrsweep resume {sweep_dir}` reruns them")
        return 1, False
    return 0, st.all_done


def _finish(sweep_dir: Path, outcome: tuple[int, bool], aggregate: bool) -> int:
    rc, complete = outcome
    if rc != 0 or not complete:
        if aggregate and rc == 0:
            print("not aggregating yet: some shards are still running")
        return rc
    if aggregate:
        from jobs.cli_results import aggregate_and_report

        paths = aggregate_and_report(sweep_dir)
        fig = paths.get("repair_probability_png")
        if fig:
            print(f"figure: {fig}")
    else:
        from aggregate.outputs import stale_inputs

        if stale_inputs(sweep_dir):
            print(f"next: mrsweep aggregate {sweep_dir}")
        else:
            print(f"aggregate is up to date: {Path(sweep_dir) / 'aggregate'}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from jobs.sweepdir import prepare_sweep

    config = _load(args)
    backend, _ = _backend(None, args, config)  # before planning: a bad backend/profile writes nothing
    sweep_dir = config.output_dir(args.output)
    manifest, what = prepare_sweep(config, sweep_dir, new=args.new)
    if what != "existing":
        print(f"{what}: {manifest.grid.n_cells} cells in {len(manifest.shards)} shards (manifest {manifest.hash[:12]})")
    rc = _execute(sweep_dir, manifest, args, force=args.force, backend=backend)
    return _finish(sweep_dir, rc, args.aggregate or args.default)


def _sweep_from_target(args: argparse.Namespace):
    from jobs.manifest import ManifestError, build_manifest, changed_keys, load_manifest
    from jobs.sweepdir import resolve_target

    sweep_dir, config = resolve_target(args.sweep, args.data_dir, args.output)
    manifest = load_manifest(sweep_dir)
    if config is not None:
        fresh = build_manifest(config)
        if fresh.hash != manifest.hash:
            what = ", ".join(changed_keys(manifest, fresh)) or "its content"
            raise ManifestError(f"{args.sweep} no longer matches the sweep in {sweep_dir} (changed since it was "
                                f"planned: {what}; a model's data or weight files count); give the sweep folder "
                                "to see the old sweep, or `mrsweep run CONFIG --new` to start over")
    return sweep_dir, manifest, config


def cmd_status(args: argparse.Namespace) -> int:
    from jobs.status import format_status, sweep_status

    sweep_dir, manifest, _ = _sweep_from_target(args)
    print(format_status(sweep_status(sweep_dir, manifest), verbose=args.verbose))
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    sweep_dir, manifest, config = _sweep_from_target(args)
    backend, _ = _backend(manifest, args, config)
    rc = _execute(sweep_dir, manifest, args, force=args.force, backend=backend)
    return _finish(sweep_dir, rc, args.aggregate)
