"""Full-batch gradient descent for the two-layer network ``f(x) = s * beta^T phi(W^T x)``.

X is n x d, W is d x p, beta has p entries, ``s`` is 1 or ``1/sqrt(p)``. Loss is the mean
squared error ``L = (1/n) ||s phi(X W) beta - y||^2``. Gradients (written by hand):

    g = 2 (f - y) / n,   dL/dbeta = s phi(XW)^T g,   dL/dW = X^T [(s g beta^T) * phi'(XW)]

so every GD step adds ``X^T (.)`` to W: ``W - W(0) = X^T V`` exactly (in exact arithmetic),
and, with W frozen, ``beta - beta_start = phi(XW)^T u``. *Layerwise* training (the thesis'
default) trains both layers, freezes W, restarts beta from ``beta_start`` and retrains beta
alone; *joint* training stops after the first phase.

torch is imported inside `train_two_layer` only, so ``import modelrepair`` stays torch-free.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

Activation = Literal["tanh", "relu", "sigmoid"]
Training = Literal["layerwise", "joint"]


def activation_fn(name: Activation) -> Callable[[np.ndarray], np.ndarray]:
    """numpy phi for ``name`` (used at repair time to build ``phi(X W~)``)."""
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda h: np.maximum(h, 0.0)
    if name == "sigmoid":
        return lambda h: 0.5 * (1.0 + np.tanh(0.5 * h))  # overflow-free logistic
    raise ValueError(f"unknown activation {name!r} (expected tanh, relu or sigmoid)")


def hidden_features(X: np.ndarray, W: np.ndarray, activation: Activation, scale: float) -> np.ndarray:
    """``s * phi(X W)`` (n x p): the design of the output layer."""
    return scale * activation_fn(activation)(X @ W)


def rowspace_residual(A: np.ndarray, D: np.ndarray, rtol: float = 1e-10) -> float:
    """Relative residual ``||D - P D||_F / ||D||_F`` of projecting D onto col(A).

    A is (rows x k), D is (rows x units) or a vector; P is the orthogonal projector onto
    the column space of A, computed by SVD with numerical rank ``s_i > rtol * s_max``.
    """
    D = np.asarray(D, float).reshape(A.shape[0], -1)
    norm = np.linalg.norm(D)
    if norm == 0.0:
        return 0.0
    U, s, _ = np.linalg.svd(A, full_matrices=False)
    U = U[:, s > rtol * s[0]] if s.size and s[0] > 0 else U[:, :0]
    return float(np.linalg.norm(D - U @ (U.T @ D)) / norm)


@dataclass(frozen=True)
class TrainResult:
    """Trained weights, the offset of layer 2 (``beta_start``) and training records."""

    W: np.ndarray
    beta: np.ndarray
    beta_start: np.ndarray
    loss_history: np.ndarray
    loss_initial: float
    loss_after_joint: float
    loss_final: float
    seconds: float


def train_two_layer(
    X: np.ndarray,
    y: np.ndarray,
    W0: np.ndarray,
    beta0: np.ndarray,
    *,
    activation: Activation = "tanh",
    scale: float = 1.0,
    steps: int = 1000,
    lr: float = 0.01,
    training: Training = "layerwise",
    beta_start: np.ndarray | None = None,
    beta_steps: int | None = None,
    beta_lr: float | None = None,
    device: str = "cpu",
    threads: int = 1,
    record_every: int = 100,
) -> TrainResult:
    """Train by full-batch GD in float64 torch on ``device``; return numpy arrays.

    Phase 1 trains (W, beta) from (W0, beta0) for ``steps`` steps at ``lr``. For
    ``training="layerwise"`` phase 2 freezes W, sets beta to ``beta_start`` (default
    beta0) and trains beta alone for ``beta_steps`` (default ``steps``) at ``beta_lr``
    (default ``lr``). ``threads`` CPU threads are used while training (restored after;
    1 is fastest for small nets and on busy shared nodes). Raises FloatingPointError if
    the loss becomes non-finite.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, threads))
    try:
        return _train(X, y, W0, beta0, activation, scale, steps, lr, training, beta_start,
                      beta_steps, beta_lr, device, record_every, torch)  # fmt: skip
    finally:
        torch.set_num_threads(previous)


def _train(X, y, W0, beta0, activation, scale, steps, lr, training, beta_start, beta_steps,
           beta_lr, device, record_every, torch) -> TrainResult:  # fmt: skip  # noqa: ANN001
    """The GD loops of `train_two_layer` (arguments as there; ``torch`` is the module)."""
    t0 = time.perf_counter()
    dev = torch.device(device)
    f64 = torch.float64
    Xt = torch.as_tensor(np.asarray(X, float), dtype=f64, device=dev)
    yt = torch.as_tensor(np.asarray(y, float), dtype=f64, device=dev)
    W = torch.as_tensor(np.array(W0, float), dtype=f64, device=dev).clone()
    beta = torch.as_tensor(np.array(beta0, float), dtype=f64, device=dev).clone()
    n = Xt.shape[0]
    phi, dphi = _torch_activation(activation, torch)
    history: list[float] = []

    def check(loss: float, phase: str, step: int) -> None:
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"training diverged in the {phase} phase at step {step} (loss {loss}); lower lr"
            )

    with torch.no_grad():
        loss_initial = float("nan")
        for step in range(steps + 1):
            H = Xt @ W
            Aact = phi(H)
            r = scale * (Aact @ beta) - yt
            loss = float(r @ r) / n if (step % record_every == 0 or step == steps) else None
            if loss is not None:
                check(loss, "joint", step)
                history.append(loss)
                if step == 0:
                    loss_initial = loss
            if step == steps:
                loss_after_joint = loss
                break
            g = (2.0 / n) * r
            grad_beta = scale * (Aact.T @ g)
            grad_H = scale * torch.outer(g, beta) * dphi(H, Aact)
            W -= lr * (Xt.T @ grad_H)
            beta -= lr * grad_beta
        start = np.array(beta0 if beta_start is None else beta_start, float)
        if training == "layerwise":
            Phi = scale * phi(Xt @ W)
            beta = torch.as_tensor(start, dtype=f64, device=dev).clone()
            b_steps = steps if beta_steps is None else beta_steps
            b_lr = lr if beta_lr is None else beta_lr
            for step in range(b_steps):
                r = Phi @ beta - yt
                if step % record_every == 0:
                    loss = float(r @ r) / n
                    check(loss, "output-layer", step)
                    history.append(loss)
                beta -= b_lr * (2.0 / n) * (Phi.T @ r)
            r = Phi @ beta - yt
            loss_final = float(r @ r) / n
            check(loss_final, "output-layer", b_steps)
            history.append(loss_final)
        else:
            start = np.array(beta0, float)
            loss_final = loss_after_joint
        W_np = W.cpu().numpy().copy()
        beta_np = beta.cpu().numpy().copy()
    return TrainResult(
        W_np,
        beta_np,
        start,
        np.asarray(history),
        float(loss_initial),
        float(loss_after_joint),
        float(loss_final),
        time.perf_counter() - t0,
    )


def _torch_activation(name: Activation, torch):  # noqa: ANN001 - torch module passed in
    """(phi, phi') with phi'(H, phi(H)) reusing the activation values where possible."""
    if name == "tanh":
        return torch.tanh, lambda H, A: 1.0 - A * A
    if name == "sigmoid":
        return torch.sigmoid, lambda H, A: A * (1.0 - A)
    if name == "relu":
        return torch.relu, lambda H, A: (H > 0).to(H.dtype)
    raise ValueError(f"unknown activation {name!r} (expected tanh, relu or sigmoid)")
