"""Batched ADMM for ``min_x ||b_j - Q x_j||_1`` over all columns at once (Q orthonormal).

Splitting ``z = Q x - b`` (Boyd et al. 2011, section 6.1) with over-relaxation alpha and
threshold ``k = 1/rho`` (right-hand sides are pre-scaled so residuals are O(1)):

    x   = Q^T (b + z - w)                 (Q^T Q = I: no solve needed)
    h   = alpha Q x + (1 - alpha)(z + b)
    v   = h - b + w
    w   = clip(v, -k, k),   z = v - w     (soft threshold of v)

``-w / k`` lies in [-1, 1] and equals -sign(z) = sign(b - Q x) where z != 0: it is the LP
dual estimate that the certificate starts from. Two matrix-matrix products per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class AdmmState:
    """Iterates for the active columns: x (r x m), z and w (d x m)."""

    x: object
    z: object
    w: object

    def take(self, cols) -> AdmmState:
        return AdmmState(self.x[:, cols], self.z[:, cols], self.w[:, cols])


def admm_init(ops, Q, B, k: float) -> AdmmState:
    """Start at the least-squares fit; z its soft-thresholded residual."""
    xp = ops.xp
    x = Q.T @ B
    v = Q @ x - B
    w = xp.clip(v, -k, k)
    return AdmmState(x, v - w, w)


def admm_iterate(ops, Q, QT, B, st: AdmmState, iters: int, k: float, alpha: float) -> AdmmState:
    """Run ``iters`` ADMM steps on all columns of B (same dtype as Q)."""
    xp = ops.xp
    x, z, w = st.x, st.z, st.w
    torch = ops.name == "torch"
    for _ in range(iters):
        x = QT @ (B + z - w)
        v = Q @ x
        # v = alpha*Qx + (1-alpha)*(z+b) - b + w = alpha*(Qx - b) + (1-alpha)*z + w, in place
        if torch:
            v.sub_(B).mul_(alpha).add_(z, alpha=1.0 - alpha).add_(w)
            w = v.clamp(-k, k)
            z = v.sub_(w)
        else:
            v -= B
            v *= alpha
            z *= 1.0 - alpha
            v += z
            v += w
            w = xp.clip(v, -k, k)
            v -= w
            z = v
    return AdmmState(x, z, w)


def dual_estimate(st: AdmmState, k: float):
    """lambda estimate for residual b - Q x: -w / k (in [-1, 1])."""
    return st.w * (-1.0 / k)
