"""Repair curves from merged cells: per (model, epsilon[, layer]) probabilities and errors.

Repair probability P = k / n over the trials of a (model, eps) point, with a Wilson score
interval (default) or a Clopper-Pearson interval. ``eps_at_half`` is the first eps where
P crosses 0.5, linearly interpolated between the two bracketing grid points.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

import numpy as np
import xarray as xr
from scipy import stats

from aggregate import schema as S

IntervalMethod = Literal["wilson", "clopper-pearson"]


def wilson_interval(
    k: np.ndarray | int, n: np.ndarray | int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion k/n (NaN where n == 0).

    With z = Phi^-1(1 - alpha/2) and p = k/n:
    centre = (p + z^2/(2n)) / (1 + z^2/n),
    half = z / (1 + z^2/n) * sqrt(p(1-p)/n + z^2/(4n^2)).
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z / denom * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lower = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        upper = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def clopper_pearson_interval(
    k: np.ndarray | int, n: np.ndarray | int, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper-Pearson) interval: Beta(a/2; k, n-k+1), Beta(1-a/2; k+1, n-k)."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    alpha = 1 - confidence
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(k > 0, stats.beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        upper = np.where(k < n, stats.beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def eps_at_probability(eps: np.ndarray, prob: np.ndarray, level: float = 0.5) -> float:
    """First eps where ``prob`` crosses ``level`` (either direction), linearly interpolated.

    NaN points (no trials) are skipped; a grid point exactly at ``level`` is returned as is;
    NaN when the curve never reaches the level.
    """
    eps = np.asarray(eps, float)
    prob = np.asarray(prob, float)
    keep = np.isfinite(prob)
    eps, prob = eps[keep], prob[keep]
    d = prob - level
    for i in range(len(eps)):
        if d[i] == 0:
            return float(eps[i])
        if i + 1 < len(eps) and d[i] * d[i + 1] < 0:
            t = d[i] / (d[i] - d[i + 1])
            return float(eps[i] + t * (eps[i + 1] - eps[i]))
    return float("nan")


def quantiles(values: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Linear-interpolation quantiles (numpy's default) that keep +inf instead of giving NaN."""
    v = np.sort(np.asarray(values, float))
    out = []
    for q in qs:
        pos = q * (v.size - 1)
        lo, t = int(np.floor(pos)), pos - np.floor(pos)
        if t == 0:
            out.append(float(v[lo]))
        elif np.isinf(v[lo + 1]) or np.isinf(v[lo]):
            out.append(float(v[lo + 1]) if np.isinf(v[lo + 1]) else float(v[lo]))
        else:
            out.append(float(v[lo] + t * (v[lo + 1] - v[lo])))
    return out


def model_order(cells: xr.Dataset) -> list[str]:
    """Models in the ``model_order`` attribute (manifest order) else in first-appearance order."""
    present = list(dict.fromkeys(str(m) for m in cells[S.COORD_MODEL].values))
    try:
        declared = [str(m) for m in json.loads(cells.attrs.get("model_order", "[]"))]
    except ValueError:
        declared = []
    return [m for m in declared if m in present] + [m for m in present if m not in declared]


def _layer_names(cells: xr.Dataset, models: Sequence[str]) -> np.ndarray:
    names = S.json_attr(cells, S.ATTR_LAYER_NAMES)
    out = np.full((len(models), len(S.LAYER_VALUES)), "", dtype=object)
    for i, m in enumerate(models):
        given = names.get(m, [])
        for j, default in enumerate(S.LAYER_VALUES):
            out[i, j] = str(given[j]) if j < len(given) and given[j] else default
    return out


def compute_curves(
    cells: xr.Dataset,
    *,
    confidence: float = 0.95,
    interval: IntervalMethod = "wilson",
    models: Sequence[str] | None = None,
) -> xr.Dataset:
    """Aggregate merged cells (see `merge_sweep`) into curves with dims (model, epsilon, layer).

    Errors (max_abs_error, mse) are summarised over the cells where the layer is present;
    ``inf`` (a unit that failed to solve) propagates into the mean, not the median.
    A ``solver_failed`` cell is a trial that was not repaired; an ``error`` cell (the cell's
    code raised) is no trial at all: it is counted in ``n_error`` only, never in ``n_trials``.
    """
    models = list(models) if models is not None else model_order(cells)
    eps_grid = np.unique(cells[S.COORD_EPSILON].values.astype(float))
    nm, ne, nl = len(models), len(eps_grid), len(S.LAYER_VALUES)
    m_idx = {m: i for i, m in enumerate(models)}
    cm = np.array([m_idx.get(str(m), -1) for m in cells[S.COORD_MODEL].values])
    ce = np.searchsorted(eps_grid, cells[S.COORD_EPSILON].values.astype(float))
    exact = cells[S.VAR_EXACT_REPAIR].values.astype(bool)
    status = cells[S.VAR_STATUS].values.astype(str)
    lex = cells[S.VAR_LAYER_EXACT_REPAIR].values.astype(int)
    mae = cells[S.VAR_MAX_ABS_ERROR].values.astype(float)
    mse = cells[S.VAR_MSE].values.astype(float)
    secs = cells[S.VAR_SOLVE_SECONDS].values.astype(float)
    extras = [str(v) for v in cells.data_vars if str(v).startswith(S.EXTRA_PREFIX)]

    n = np.zeros((nm, ne), np.int64)
    k = np.zeros((nm, ne), np.int64)
    n_failed = np.zeros((nm, ne), np.int64)
    n_error = np.zeros((nm, ne), np.int64)
    secs_mean = np.full((nm, ne), np.nan)
    ln = np.zeros((nm, ne, nl), np.int64)
    lk = np.zeros((nm, ne, nl), np.int64)
    err_stats = {key: np.full((nm, ne, nl), np.nan) for key in (
        "max_abs_error_mean", "max_abs_error_median", "max_abs_error_q25", "max_abs_error_q75",
        "mse_mean", "mse_median", "mse_q25", "mse_q75")}
    extra_mean = {name: np.full((nm, ne), np.nan) for name in extras}
    for i in range(nm):
        for j in range(ne):
            here = (cm == i) & (ce == j)
            n_error[i, j] = (status[here] == S.STATUS_ERROR).sum()
            sel = here & (status != S.STATUS_ERROR)
            n[i, j] = sel.sum()
            if not n[i, j]:
                continue
            k[i, j] = exact[sel].sum()
            n_failed[i, j] = (status[sel] == S.STATUS_SOLVER_FAILED).sum()
            secs_mean[i, j] = np.nanmean(secs[sel]) if np.isfinite(secs[sel]).any() else np.nan
            for name in extras:
                vals = cells[name].values[sel].astype(float)
                extra_mean[name][i, j] = np.nanmean(vals) if np.isfinite(vals).any() else np.nan
            for layer in range(nl):
                present = lex[sel, layer] >= 0
                ln[i, j, layer] = present.sum()
                lk[i, j, layer] = (lex[sel, layer] == 1).sum()
                for var, values in (("max_abs_error", mae), ("mse", mse)):
                    v = values[sel, layer][present]
                    v = v[~np.isnan(v)]
                    if v.size:
                        err_stats[f"{var}_mean"][i, j, layer] = np.mean(v)
                        q25, med, q75 = quantiles(v, (0.25, 0.5, 0.75))
                        err_stats[f"{var}_median"][i, j, layer] = med
                        err_stats[f"{var}_q25"][i, j, layer] = q25
                        err_stats[f"{var}_q75"][i, j, layer] = q75
    ci = wilson_interval if interval == "wilson" else clopper_pearson_interval
    with np.errstate(divide="ignore", invalid="ignore"):
        prob = np.where(n > 0, k / np.maximum(n, 1), np.nan)
        lprob = np.where(ln > 0, lk / np.maximum(ln, 1), np.nan)
    lo, hi = ci(k, n, confidence)
    llo, lhi = ci(lk, ln, confidence)
    eps_half = np.array([eps_at_probability(eps_grid, prob[i]) for i in range(nm)])
    ci_name = "Wilson score" if interval == "wilson" else "Clopper-Pearson"
    pct = f"{confidence:.0%}"

    me, mel = ("model", "epsilon"), ("model", "epsilon", "layer")

    def var(dims, data, long_name, units="1", **extra):
        return (dims, data, {"long_name": long_name, "units": units, **extra})

    data_vars = {
        "n_trials": var(me, n, "number of trials (cells without status error) at this corruption level"),
        "n_repaired": var(me, k, "number of cells with every layer exactly repaired"),
        "repair_probability": var(me, prob, "probability of exact repair of every layer"),
        "repair_probability_lower": var(me, lo, f"lower bound of the {pct} {ci_name} interval"),
        "repair_probability_upper": var(me, hi, f"upper bound of the {pct} {ci_name} interval"),
        "n_solver_failed": var(me, n_failed, "number of cells with status solver_failed"),
        "n_error": var(me, n_error, "number of cells with status error"),
        "solve_seconds_mean": var(me, secs_mean, "mean LAD solve time per cell", "s"),
        "layer_n_trials": var(mel, ln, "number of cells where the layer was repaired (present and attempted)"),
        "layer_n_repaired": var(mel, lk, "number of cells where the layer is exactly repaired"),
        "layer_repair_probability": var(mel, lprob, "probability of exact repair of the layer, over the cells "
                                        "that attempted it (early stop skips later layers after a failure)"),
        "layer_repair_probability_lower": var(mel, llo, f"lower bound of the {pct} {ci_name} interval"),
        "layer_repair_probability_upper": var(mel, lhi, f"upper bound of the {pct} {ci_name} interval"),
        "eps_at_half": var(("model",), eps_half,
                           "corruption fraction where the repair probability first crosses 0.5 "
                           "(linear interpolation; NaN if it never does)"),
    }
    for key, arr in err_stats.items():
        base, what = key.rsplit("_", 1)
        label = {"mean": "mean", "median": "median", "q25": "25th percentile", "q75": "75th percentile"}[what]
        text = "max absolute error of repaired vs trained parameters" if base == "max_abs_error" \
            else "mean squared error of repaired vs trained parameters"
        data_vars[key] = var(mel, arr, f"{label} over trials of the {text}")
    for name, arr in extra_mean.items():
        data_vars[f"{name}_mean"] = var(me, arr, f"mean over trials of {name}")
    coords = {
        "model": ("model", np.array(models, dtype=object), {"long_name": "model name"}),
        "epsilon": ("epsilon", eps_grid, {"long_name": "corruption fraction eps", "units": "1"}),
        "layer": ("layer", np.array(S.LAYER_VALUES, dtype=object), {"long_name": "parameter layer"}),
        "layer_name": (("model", "layer"), _layer_names(cells, models),
                       {"long_name": "name of the layer for this model"}),
        "layer_present": (("model", "layer"), ln.sum(axis=1) > 0,
                          {"long_name": "the model has this layer"}),
    }
    attrs = {key: cells.attrs[key] for key in (S.ATTR_SWEEP_NAME, S.ATTR_MANIFEST_HASH,
             S.ATTR_LAYER_NAMES, S.ATTR_MODEL_SPECS, S.ATTR_SOLVER, S.ATTR_DIAGNOSIS) if key in cells.attrs}
    attrs.update(interval=interval, confidence=confidence, n_cells=int(cells.sizes[S.DIM_CELL]),
                 Conventions="CF-1.8", title=f"repair curves of sweep {attrs.get(S.ATTR_SWEEP_NAME, '')}")
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def summary_rows(curves: xr.Dataset) -> list[dict[str, object]]:
    """One row per (model, epsilon) with the main numbers, for ``summary.csv``."""
    rows = []
    for m in curves["model"].values:
        c = curves.sel(model=m)
        for e in curves["epsilon"].values:
            p = c.sel(epsilon=e)
            row: dict[str, object] = {"model": str(m), "epsilon": float(e)}
            for key in ("n_trials", "n_repaired", "n_solver_failed", "n_error"):
                row[key] = int(p[key])
            for key in ("repair_probability", "repair_probability_lower", "repair_probability_upper",
                        "solve_seconds_mean"):
                row[key] = float(p[key])
            for layer in curves["layer"].values:
                if not bool(c["layer_present"].sel(layer=layer)):
                    continue
                lp = p.sel(layer=layer)
                for key in ("layer_repair_probability", "max_abs_error_median", "max_abs_error_mean",
                            "mse_median", "mse_mean"):
                    row[f"{key}_{layer}"] = float(lp[key])
            rows.append(row)
    return rows


def format_summary(curves: xr.Dataset) -> str:
    """Short text: per model the eps where P(repair) = 0.5 and the trials per point."""
    name = curves.attrs.get(S.ATTR_SWEEP_NAME, "")
    lines = [f"sweep {name}: {curves.attrs.get('n_cells', '?')} cells, {curves.sizes['model']} model(s)",
             f"{'model':<24} {'eps at P=0.5':>12} {'trials/eps':>11} {'P(eps min)':>10} {'P(eps max)':>10}"]
    for m in curves["model"].values:
        c = curves.sel(model=m)
        e_half = float(c["eps_at_half"])
        trials = c["n_trials"].values
        prob = c["repair_probability"].values
        valid = np.flatnonzero(trials > 0)
        first = f"{prob[valid[0]]:.2f}" if valid.size else "-"
        last = f"{prob[valid[-1]]:.2f}" if valid.size else "-"
        tr = f"{trials[valid].min()}" if valid.size else "0"
        if valid.size and trials[valid].min() != trials[valid].max():
            tr = f"{trials[valid].min()}-{trials[valid].max()}"
        half = f"{e_half:.4f}"
        if np.isnan(e_half) and valid.size:  # no crossing: say on which side of the grid it lies
            eps = c["epsilon"].values[valid]
            half = f"above {eps[-1]:.2f}" if prob[valid].min() >= 0.5 else f"below {eps[0]:.2f}"
            if prob[valid].min() < 0.5 <= prob[valid].max():
                half = "no crossing"
        elif np.isnan(e_half):
            half = "-"
        lines.append(f"{str(m):<24} {half:>12} {tr:>11} {first:>10} {last:>10}")
    if any(ln.split()[1:2] in (["above"], ["below"]) for ln in lines[2:]):
        lines.append("('above e': P(repair) >= 1/2 on the whole grid, up to the largest eps e; "
                     "'below e': P < 1/2 already at the smallest eps e)")
    for m in curves["model"].values:
        c = curves.sel(model=m)
        bad = {label: int(c[key].sum()) for key, label in
               (("n_solver_failed", "solver_failed (counted as not repaired)"),
                ("n_error", "error (left out of the trials)"))}
        if any(bad.values()):
            what = ", ".join(f"{v} {label}" for label, v in bad.items() if v)
            lines.append(f"warning: model {m}: {what}; the cells' 'message' in the shard files says why")
    for m, d in S.json_attr(curves, S.ATTR_DIAGNOSIS).items():
        if isinstance(d, dict) and not d.get("exactly_repairable", True):
            verdicts = ", ".join(f"{x.get('name')}: {x.get('code')}" for x in d.get("layers", []))
            lines.append(f"note: model {m} was diagnosed not exactly repairable ({verdicts})")
    return "\n".join(lines)
