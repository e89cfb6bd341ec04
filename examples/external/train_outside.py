"""Train a two-layer network in plain PyTorch (no modelrepair code), save it, and sweep
corruption + repair on it with the ``external`` model kind.

    .venv/bin/python examples/external/train_outside.py [--out DIR] [--no-run]

Writes into DIR (default: a new temporary folder):
- ``layerwise.npz``: X, W0, W, beta0, beta, b0, b (thesis layout, W is d x p);
- ``layerwise.pt``: {"initial", "trained", "X"} state dicts of the nn.Sequential;
- ``joint.pt``: the same network trained jointly (not layerwise: beta not exactly repairable);
- ``external.toml``: a sweep over the three models;
then runs ``mrsweep diagnose``, ``mrsweep run`` and ``mrsweep status`` on it.

Layerwise training (as in the thesis): train both layers, freeze the first, set the output
weights to 0 and retrain them alone. The first layer has a bias (handled by the external
kind as a constant input column: ``first_layer_bias = true``); the output bias is neither
corrupted nor repaired. Everything is float64 so repair is exact to ~1e-10.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

N, D, P = 12, 40, 80  # samples, inputs, hidden units


def make_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, P), nn.Tanh(), nn.Linear(P, 1)).double()


def train(net: nn.Sequential, X: torch.Tensor, y: torch.Tensor, steps: int, lr: float, params) -> None:  # noqa: ANN001
    """Full-batch gradient descent on the mean squared error."""
    opt = torch.optim.SGD(params, lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.mean((net(X).squeeze(1) - y) ** 2)
        loss.backward()
        opt.step()


def state(net: nn.Sequential) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def train_and_save(out: Path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a net this small trains several times faster on one thread
    try:
        _train_and_save(out)
    finally:
        torch.set_num_threads(threads)


def _train_and_save(out: Path) -> None:
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(N, D, generator=gen, dtype=torch.float64)
    y = torch.sign(torch.randn(N, generator=gen, dtype=torch.float64))

    # layerwise: joint phase, then output layer alone from 0
    net = make_net(1)
    initial = state(net)
    train(net, X, y, steps=300, lr=0.05, params=net.parameters())
    with torch.no_grad():
        net[2].weight.zero_()
    train(net, X, y, steps=300, lr=0.05, params=[net[2].weight, net[2].bias])
    trained = state(net)
    initial_beta_zero = {**initial, "2.weight": torch.zeros_like(initial["2.weight"])}  # where phase 2 started
    torch.save({"initial": initial_beta_zero, "trained": trained, "X": X}, out / "layerwise.pt")
    np.savez(
        out / "layerwise.npz", X=X.numpy(),
        W0=initial["0.weight"].numpy().T, W=trained["0.weight"].numpy().T,  # Linear.weight is p x d
        beta0=np.zeros(P), beta=trained["2.weight"].numpy()[0],
        b0=initial["0.bias"].numpy(), b=trained["0.bias"].numpy(),
    )  # fmt: skip

    # joint: plain GD on both layers (W repairable, beta only approximately)
    net = make_net(1)
    initial = state(net)
    train(net, X, y, steps=300, lr=0.05, params=net.parameters())
    torch.save({"initial": initial, "trained": state(net), "X": X}, out / "joint.pt")


CONFIG = """\
# Written by examples/external/train_outside.py: a sweep on networks trained outside modelrepair.
[sweep]
name = "external-example"
seed = 1
trials = 4
cells_per_shard = 20
output = "sweep"

[grid]
epsilon = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]

[repair]
solver = "highs"
tolerance = 1e-6

[executor]
backend = "local"
workers = 2

[[models]]
name = "layerwise-npz"
kind = "external"
path = "layerwise.npz"
activation = "tanh"
first_layer_bias = true

[[models]]
name = "layerwise-torch"
kind = "external"
path = "layerwise.pt"
activation = "tanh"
first_layer_bias = true

[[models]]
name = "joint-torch"
kind = "external"
path = "joint.pt"
activation = "tanh"
first_layer_bias = true
"""


def mrsweep(*args: str, cwd: Path) -> None:
    cmd = [sys.executable, "-m", "jobs.cli", *args]
    print("$ mrsweep " + " ".join(args), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="output folder (default: a new temporary folder)")
    parser.add_argument("--no-run", action="store_true", help="only train, save and write the config")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mr-external-"))
    out.mkdir(parents=True, exist_ok=True)
    train_and_save(out)
    (out / "external.toml").write_text(CONFIG)
    print(f"saved layerwise.npz, layerwise.pt, joint.pt and external.toml in {out}")
    if not args.no_run:
        mrsweep("diagnose", "external.toml", cwd=out)
        mrsweep("run", "external.toml", "--quiet", cwd=out)
        mrsweep("status", "sweep", cwd=out)
        mrsweep("aggregate", "sweep", cwd=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
