"""``mrsweep``: plan, run, watch, resume and aggregate model-repair sweeps.

Subcommands are pluggable: each module in ``COMMAND_MODULES`` exposes
``register(subparsers)`` adding its subcommands (each sets ``func(args) -> int``).
Another package adds its commands by adding one line here.
User errors (`modelrepair.errors.UserError`) print one line to stderr and exit 2; a closed
output pipe (``mrsweep status SWEEP | head -3``) ends quietly with exit 141.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from modelrepair.errors import UserError

COMMAND_MODULES: list[str] = [
    "jobs.cli_sweep",  # plan, run, status, resume
    "jobs.cli_results",  # aggregate, plot
    "jobs.cli_solvers",  # solvers
    "jobs.cli_diagnose",  # diagnose (external models)
    "jobs.cli_hardness",  # hardness-check (vertex cover -> c-DPS reduction)
    "jobs.cli_scaling",  # scaling (repair cost vs model size)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mrsweep",
        description="Model-repair sweeps: corrupt trained models at many eps, repair them by LAD, "
        "and turn the results into repair-probability curves. Start with `mrsweep run --default`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `mrsweep <command> --help` for each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not in the interpreter's exit flush
        return rc
    except UserError as err:
        msg = " ".join(str(err).split("\n"))
        print(f"mrsweep {args.command}: error: {msg}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"mrsweep {args.command}: interrupted; `mrsweep status` shows what is left", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `mrsweep status SWEEP | head -3`: the reader left; stop quietly
        _silence_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command killed by a closed pipe


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (tests)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
