"""Thesis-style figures from a curves dataset (see `compute_curves`), Agg backend, atomic writes.

Figure 1 ``repair_probability``: P(exact repair) vs eps, one line per model with its
confidence band; with two-layer models, extra panels per layer (e.g. W, beta).
Figure 2 ``errors``: median max-abs error vs eps (log y) with the interquartile band,
one panel per layer. One legend per figure, right of the last panel (never over a curve).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from aggregate import schema as S  # noqa: E402
from aggregate.atomic import atomic_write  # noqa: E402

ERROR_FLOOR = 1e-16
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _present_layers(curves: xr.Dataset) -> list[str]:
    present = curves["layer_present"].any("model")
    return [str(layer) for layer, ok in zip(curves["layer"].values, present.values, strict=True) if ok]


def _layer_title(curves: xr.Dataset, layer: str) -> str:
    """Panel title from the ``layer_names`` of the models that have this layer, e.g. "layer 2: beta"."""
    sel = curves.sel(layer=layer)
    names = [str(n) for n, ok in zip(sel["layer_name"].values, sel["layer_present"].values, strict=True) if ok]
    unique = [n for n in dict.fromkeys(names) if n != layer]
    label = layer.replace("layer", "layer ")
    return f"{label}: {' / '.join(unique)}" if unique else label


def _sweep_title(curves: xr.Dataset) -> str:
    name = curves.attrs.get(S.ATTR_SWEEP_NAME, "")
    return f"sweep '{name}'" if name else "sweep"


def _style(i: int) -> dict[str, object]:
    color = plt.get_cmap("tab10")(i % 10)
    return {"color": color, "marker": MARKERS[i % len(MARKERS)], "markersize": 4, "linewidth": 1.5}


def _legend_outside(axes) -> None:
    """One legend for all panels, right of the last panel: it never covers a curve.

    Handles come from the first panel (every model is drawn there); ``bbox_inches="tight"``
    in `_save` keeps the legend inside the saved image.
    """
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[-1].legend(handles, labels, title="model", fontsize=8, loc="upper left",
                        bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=True)


def save_figure(fig: plt.Figure, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """Write ``fig`` as ``out_dir/stem.<fmt>`` for each format, atomically (tmp, fsync, rename)."""
    paths = [atomic_write(Path(out_dir) / f"{stem}.{fmt}",
                          lambda p, fmt=fmt: fig.savefig(p, format=fmt, dpi=150, bbox_inches="tight"))
             for fmt in formats]
    plt.close(fig)
    return paths


def band_alpha(n_models: int) -> float:
    """Opacity of one model's interval band: where all bands overlap (P = 0 or 1 for every
    model) the stack stays light (at most ~40% opaque) instead of a dark mixed-colour block."""
    return min(0.15, 0.5 / max(n_models, 1) ** 1.2)


def _prob_panel(ax, curves, prefix: str, layer: str | None, title: str) -> None:
    eps = curves["epsilon"].values
    for i, model in enumerate(curves["model"].values):
        c = curves.sel(model=model)
        if layer is not None:
            if not bool(c["layer_present"].sel(layer=layer)):
                continue
            c = c.sel(layer=layer)
        p = c[f"{prefix}repair_probability"].values
        ok = np.isfinite(p)
        st = _style(i)
        ax.plot(eps[ok], p[ok], label=str(model), **st)
        ax.fill_between(eps[ok], c[f"{prefix}repair_probability_lower"].values[ok],
                        c[f"{prefix}repair_probability_upper"].values[ok], color=st["color"],
                        alpha=band_alpha(curves.sizes["model"]), linewidth=0)
    ax.axhline(0.5, color="0.5", linewidth=0.8, linestyle=":")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("corruption fraction $\\varepsilon$")
    ax.set_ylabel("probability of exact repair")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)


def plot_repair_probability(
    curves: xr.Dataset, out_dir: str | Path, formats: Sequence[str] = ("png", "pdf")
) -> list[Path]:
    """Figure 1: P(repair) vs eps per model with CI bands; per-layer panels if any model has 2 layers."""
    return save_figure(repair_probability_figure(curves), Path(out_dir), "repair_probability", formats)


def repair_probability_figure(curves: xr.Dataset) -> plt.Figure:
    """The figure of `plot_repair_probability`, not saved (the caller closes it)."""
    layers = _present_layers(curves)
    per_layer = len(layers) > 1
    ncols = 1 + (len(layers) if per_layer else 0)
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 4.2), squeeze=False)
    axes = axes[0]
    ci = "Wilson" if curves.attrs.get("interval", "wilson") == "wilson" else "Clopper-Pearson"
    conf = float(curves.attrs.get("confidence", 0.95))
    _prob_panel(axes[0], curves, "", None, "all layers" if per_layer else "")
    if per_layer:
        for ax, layer in zip(axes[1:], layers, strict=True):
            _prob_panel(ax, curves, "layer_", layer, _layer_title(curves, layer))
    _legend_outside(axes)
    fig.suptitle(f"Probability of exact repair, {_sweep_title(curves)}")
    layer_note = "; layer panels: over the cells that attempted the layer (early stop skips it)" if per_layer else ""
    fig.text(0.5, -0.02, f"bands: {conf:.0%} {ci} intervals; trials per point: "
             f"{_trials_text(curves)}{layer_note}", ha="center", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def _trials_text(curves: xr.Dataset) -> str:
    n = curves["n_trials"].values
    n = n[n > 0]
    if not n.size:
        return "0"
    return str(n.min()) if n.min() == n.max() else f"{n.min()}-{n.max()}"


def plot_errors(
    curves: xr.Dataset, out_dir: str | Path, formats: Sequence[str] = ("png", "pdf"),
    floor: float = ERROR_FLOOR,
) -> list[Path]:
    """Figure 2: median max-abs error vs eps (log y) with IQR band, one panel per layer.

    Errors below ``floor`` (exact zeros included) are drawn at ``floor``; inf (unsolved)
    medians are left out; the caption says so.
    """
    return save_figure(errors_figure(curves, floor), Path(out_dir), "errors", formats)


def errors_figure(curves: xr.Dataset, floor: float = ERROR_FLOOR) -> plt.Figure:
    """The figure of `plot_errors`, not saved (the caller closes it)."""
    layers = _present_layers(curves)
    fig, axes = plt.subplots(1, len(layers), figsize=(5.2 * len(layers), 4.2), squeeze=False)
    axes = axes[0]
    eps = curves["epsilon"].values
    for ax, layer in zip(axes, layers, strict=True):
        for i, model in enumerate(curves["model"].values):
            c = curves.sel(model=model, layer=layer)
            if not bool(c["layer_present"]):
                continue
            med = c["max_abs_error_median"].values
            q25 = c["max_abs_error_q25"].values
            q75 = c["max_abs_error_q75"].values
            ok = np.isfinite(med)
            st = _style(i)
            ax.plot(eps[ok], np.maximum(med[ok], floor), label=str(model), **st)
            lo = np.maximum(np.nan_to_num(q25[ok], nan=floor), floor)
            hi = np.maximum(np.nan_to_num(q75[ok], nan=floor, posinf=np.nan), floor)
            ax.fill_between(eps[ok], lo, hi, color=st["color"], alpha=band_alpha(curves.sizes["model"]), linewidth=0)
        ax.set_yscale("log")
        ax.set_xlabel("corruption fraction $\\varepsilon$")
        ax.set_ylabel("max |repaired - trained| (median over trials)")
        ax.set_title(_layer_title(curves, layer) if len(layers) > 1 else "")
        ax.grid(True, which="major", alpha=0.3)
    _legend_outside(axes)
    fig.suptitle(f"Repair error, {_sweep_title(curves)}")
    caption = error_caption(*error_flags(curves, floor), floor)
    fig.text(0.5, -0.02, caption, ha="center", fontsize=8, color="0.3")
    fig.tight_layout()
    return fig


def error_flags(curves: xr.Dataset, floor: float = ERROR_FLOOR) -> tuple[bool, bool]:
    """(some plotted median/quartile is below ``floor``, some median is inf) over present layers."""
    present = curves["layer_present"].broadcast_like(curves["max_abs_error_median"])
    med = curves["max_abs_error_median"].where(present).values
    q25 = curves["max_abs_error_q25"].where(present).values
    ok = np.isfinite(med)
    clipped = bool((med[ok] < floor).any() or (q25[ok] < floor).any())
    return clipped, bool(np.isinf(med).any())


def error_caption(clipped: bool, dropped: bool, floor: float = ERROR_FLOOR) -> str:
    """Caption of the error figure: what the band is, and what was clipped or left out."""
    caption = "bands: interquartile range over trials"
    if clipped:
        caption += f"; errors below {floor:g} (exact repairs give 0) drawn at {floor:g}"
    if dropped:
        caption += "; points whose median error is inf (unsolved units) omitted"
    return caption


def plot_all(
    curves: xr.Dataset, out_dir: str | Path, formats: Sequence[str] = ("png", "pdf")
) -> dict[str, list[Path]]:
    """Both figures; returns {"repair_probability": [...], "errors": [...]}."""
    return {
        "repair_probability": plot_repair_probability(curves, out_dir, formats),
        "errors": plot_errors(curves, out_dir, formats),
    }
