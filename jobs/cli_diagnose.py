"""``mrsweep diagnose``: repairability diagnosis of imported (external) models, as a table.

``mrsweep diagnose sweep.toml`` diagnoses every ``kind = "external"`` model of a config;
``mrsweep diagnose net.npz`` (or a CSV prefix, or a torch checkpoint) diagnoses model files
directly, with the activation and options given on the command line. The same diagnosis
is stored in the manifest at plan time and in each shard's ``diagnosis`` attribute.
"""

from __future__ import annotations

import argparse
import json

from modelrepair.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "diagnose", help="repairability diagnosis of imported models (row-space residuals, verdict per layer)",
        description="For each layer: how far W - W(0) is from rowspace(X) (relative residual per hidden "
        "unit), how far beta - beta(0) is from rowspace(phi(X W)^T), parameters per sample, and a verdict: "
        "exactly repairable in principle / approximately only / not repairable (under-parameterized). "
        "TARGET is a sweep config (.toml: its external models) or model files (.npz, CSV prefix, .pt).",
        epilog="Exit status: 0 when every model was diagnosed (whatever the verdicts: they are the report); "
        "2 on bad input (missing or malformed files, wrong shapes), with one line naming the file.",
    )
    p.add_argument("target", nargs="+", help="sweep config (.toml) or model file(s): .npz, CSV prefix, torch .pt")
    p.add_argument("--data-dir", help="config only: look data files up in this folder (by file name)")
    p.add_argument("--activation", default="tanh", choices=("tanh", "relu", "sigmoid"), help="model files: phi (default tanh)")
    p.add_argument("--output-scaling", default="none", choices=("none", "inv_sqrt_p"), help="model files: output scale s")
    p.add_argument("--first-layer-bias", action="store_true", help="model files: the first layer has a bias (b0/b arrays, Linear.bias)")
    p.add_argument("--beta-offset", default="initial", choices=("initial", "zero"), help="model files: layer-2 offset")
    p.add_argument("--format", default="auto", choices=("auto", "npz", "csv", "torch"), help="model files: file format")
    p.add_argument("--init-path", help="torch: file with the initial state dict")
    p.add_argument("--x-path", help="torch: X (.npy or .csv) when the checkpoint holds none")
    p.add_argument("--json", action="store_true", help="print JSON (per-unit residuals included) instead of tables")
    p.set_defaults(func=cmd_diagnose)


def _specs(args: argparse.Namespace) -> list:
    from modelrepair.models import spec_from_dict

    if len(args.target) == 1 and args.target[0].endswith(".toml"):
        from jobs.config import load_config

        config = load_config(args.target[0], data_dir=args.data_dir)
        specs = [m for m in config.models if callable(getattr(m, "diagnose", None))]
        skipped = [m.name for m in config.models if m not in specs]
        if skipped:
            print(f"not diagnosed (trained here, exact by construction when layerwise): {', '.join(skipped)}")
        if not specs:
            raise UserError(f"{args.target[0]}: no kind = \"external\" model to diagnose")
        return specs
    out = []
    for i, path in enumerate(args.target):
        table = {"kind": "external", "name": path, "path": path, "format": args.format,
                 "activation": args.activation, "output_scaling": args.output_scaling,
                 "first_layer_bias": args.first_layer_bias, "beta_offset": args.beta_offset,
                 "init_path": args.init_path, "x_path": args.x_path}  # fmt: skip
        out.append(spec_from_dict({k: v for k, v in table.items() if v is not None}, f"target[{i}]"))
    return out


def cmd_diagnose(args: argparse.Namespace) -> int:
    specs = _specs(args)
    if args.json:
        result = {}
        for spec in specs:
            result[spec.name] = {"path": spec.path, **spec.run_diagnosis().to_dict(per_unit=True)}
        print(json.dumps(result, indent=1))
        return 0
    for spec in specs:
        arrays = spec.load()
        n, d = arrays.X.shape
        bias = " (incl. bias column)" if spec.first_layer_bias else ""
        print(f"model {spec.name}: {spec.path}  [n={n}, d={d}{bias}, p={arrays.beta.shape[0]}, {spec.activation}]")
        print(spec.run_diagnosis().table())
        print()
    return 0
