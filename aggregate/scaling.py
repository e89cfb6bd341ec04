"""Repair-cost scaling: solve time vs model size across finished sweeps, power-law fits, figure.

Model size comes from the shard attribute ``model_specs`` (JSON; jobs/ is not imported):

- ``linear``: ``size = p`` (= ``design.p``), the number of repaired parameters; one LAD
  with a p x n design.
- ``twolayer``: ``size = d * hidden`` (``design.p`` = d inputs, ``hidden`` units), the
  layer-1 parameter count: ``hidden`` LADs with one d x n design, plus one hidden x n LAD
  for beta (``solve_seconds`` holds both layers).

Other kinds are skipped with a note. ``n`` is ``design.n`` (None when read from a file).

Per (solver, model, eps): median and 25/75 % quantiles of ``solve_seconds`` over the cells
with status other than "error" and a positive finite time, with the share of those cells
exactly repaired (a failing repair often costs a different amount than a succeeding one).
Per series (solver, kind, n, eps) with k >= 2 sizes, ordinary least squares on the medians

    log t = a + b log size,   se(b) = sqrt(RSS / (k - 2) / sum_i (x_i - xbar)^2)

(natural logs; se is NaN for k = 2; optionally only sizes >= a threshold, since small
problems can be bound by fixed per-call overhead). Medians make the fit robust to the slow
first cell of a worker (imports, warm-up). Ratios between solvers are ``median(solver) / median(reference)``
per (kind, n, eps, size), the reference being the first sweep given.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from aggregate import schema as S
from aggregate.atomic import atomic_write_text
from modelrepair.errors import UserError

SIZE_NAMES = {"linear": "p", "twolayer": "d*hidden"}
SIZE_LABELS = {"linear": "p (parameters repaired)", "twolayer": "d x hidden (layer-1 parameters)"}
SOLVER_CMAPS = ("Blues", "Oranges", "Greens", "Purples", "Reds", "Greys")
SOLVER_MARKERS = ("o", "s", "^", "D", "v", "P")
SOLVER_LINES = ("-", "--", ":", "-.")


@dataclass(frozen=True)
class ModelSize:
    """Size of one model as the scaling study counts it."""

    model: str
    kind: str
    n: int | None
    size: int
    size_name: str


@dataclass(frozen=True)
class TimingPoint:
    """Median and quartiles of solve seconds of one (solver, model, eps)."""

    solver: str
    kind: str
    model: str
    n: int | None
    epsilon: float
    size_name: str
    size: int
    cells: int
    median_s: float
    q25_s: float
    q75_s: float
    exact_fraction: float  # of these cells, the share exactly repaired (cost often differs when < 1)


@dataclass(frozen=True)
class PowerLawFit:
    """``t = exp(intercept) * size**slope`` fitted to the medians of one series."""

    solver: str
    kind: str
    n: int | None
    epsilon: float
    size_name: str
    n_sizes: int
    size_min: int
    size_max: int
    slope: float
    slope_se: float
    intercept: float
    r2: float
    cells: int

    def predict(self, size: np.ndarray) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(size, float) ** self.slope


@dataclass(frozen=True)
class ScalingResult:
    """Everything one scaling study computed and wrote."""

    points: tuple[TimingPoint, ...]
    fits: tuple[PowerLawFit, ...]
    reference: str
    paths: dict[str, Path] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    summary: str = ""


def model_size(name: str, spec: dict[str, Any]) -> ModelSize | None:
    """Size of a model from its spec dict (see module docstring); None for other kinds."""
    kind = str(spec.get("kind", ""))
    design = spec.get("design") or {}
    n = design.get("n")
    n = int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else None
    p = design.get("p")
    if not isinstance(p, (int, float)) or isinstance(p, bool):
        return None
    if kind == "linear":
        return ModelSize(name, kind, n, int(p), SIZE_NAMES[kind])
    if kind == "twolayer":
        hidden = spec.get("hidden")
        if not isinstance(hidden, (int, float)) or isinstance(hidden, bool):
            return None
        return ModelSize(name, kind, n, int(p) * int(hidden), SIZE_NAMES[kind])
    return None


def fit_power_law(sizes: Sequence[float], times: Sequence[float]) -> tuple[float, float, float, float]:
    """OLS of log t on log size: (slope, slope standard error, intercept, R^2).

    Needs >= 2 distinct sizes and positive times (else all NaN); se is NaN for 2 points.
    """
    x = np.log(np.asarray(sizes, float))
    y = np.log(np.asarray(times, float))
    nan = float("nan")
    if x.size < 2 or not np.all(np.isfinite(x)) or not np.all(np.isfinite(y)):
        return nan, nan, nan, nan
    xc = x - x.mean()
    sxx = float(xc @ xc)
    if sxx <= 0.0:
        return nan, nan, nan, nan
    slope = float(xc @ (y - y.mean())) / sxx
    intercept = float(y.mean() - slope * x.mean())
    resid = y - intercept - slope * x
    rss = float(resid @ resid)
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - rss / tss if tss > 0 else 1.0
    se = math.sqrt(rss / (x.size - 2) / sxx) if x.size > 2 else nan
    return slope, se, intercept, r2


def timing_points(ds: xr.Dataset, solver: str) -> tuple[list[TimingPoint], list[str]]:
    """Per (model, eps) timing summary of one merged sweep dataset, and notes on what was skipped."""
    specs = S.json_attr(ds, S.ATTR_MODEL_SPECS)
    models = ds[S.COORD_MODEL].values.astype(str)
    eps = np.round(ds[S.COORD_EPSILON].values.astype(float), 12)
    seconds = ds[S.VAR_SOLVE_SECONDS].values.astype(float)
    exact = ds[S.VAR_EXACT_REPAIR].values.astype(bool)
    usable = (ds[S.VAR_STATUS].values.astype(str) != "error") & np.isfinite(seconds) & (seconds > 0)
    points, notes = [], []
    for model in dict.fromkeys(models):
        size = model_size(model, specs.get(model, {}))
        if size is None:
            kind = specs.get(model, {}).get("kind", "?")
            notes.append(f"{solver}: model {model!r} (kind {kind!r}) skipped: no size rule for this kind")
            continue
        for e in sorted(set(eps[models == model])):
            sel = (models == model) & (eps == e) & usable
            t = seconds[sel]
            dropped = int(np.sum((models == model) & (eps == e))) - t.size
            if dropped:
                notes.append(f"{solver}: {model} eps={e:g}: {dropped} cell(s) without a usable time (status error, or no positive time)")
            if t.size == 0:
                continue
            q25, med, q75 = np.quantile(t, [0.25, 0.5, 0.75])
            points.append(TimingPoint(solver, size.kind, model, size.n, float(e), size.size_name, size.size,
                                      int(t.size), float(med), float(q25), float(q75), float(exact[sel].mean())))
    return points, notes


def _series_key(p: TimingPoint | PowerLawFit) -> tuple:
    return (p.solver, p.kind, -1 if p.n is None else p.n, p.epsilon)


def fit_series(points: Sequence[TimingPoint], min_size: int = 0) -> list[PowerLawFit]:
    """One power-law fit per (solver, kind, n, eps) series, on its points with size >= ``min_size``
    (to leave out small sizes where fixed overhead, not the problem size, sets the time)."""
    groups: dict[tuple, list[TimingPoint]] = {}
    for p in points:
        if p.size < min_size:
            continue
        groups.setdefault(_series_key(p), []).append(p)
    fits = []
    for pts in groups.values():
        pts = sorted(pts, key=lambda q: q.size)
        slope, se, a, r2 = fit_power_law([q.size for q in pts], [q.median_s for q in pts])
        f = pts[0]
        fits.append(PowerLawFit(f.solver, f.kind, f.n, f.epsilon, f.size_name, len({q.size for q in pts}),
                                pts[0].size, pts[-1].size, slope, se, a, r2, sum(q.cells for q in pts)))
    return fits


def solver_ratios(points: Sequence[TimingPoint], reference: str) -> dict[TimingPoint, float]:
    """``median(point) / median(reference solver's point at the same kind, n, eps, size)``."""
    ref = {(p.kind, p.n, p.epsilon, p.size): p.median_s for p in points if p.solver == reference}
    return {p: p.median_s / ref[(p.kind, p.n, p.epsilon, p.size)]
            for p in points if (p.kind, p.n, p.epsilon, p.size) in ref}


def _csv_text(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


def write_csvs(result: ScalingResult, out_dir: Path) -> dict[str, Path]:
    """``scaling_slopes.csv`` (one row per fit) and ``scaling_times.csv`` (one row per point)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    slopes = out_dir / "scaling_slopes.csv"
    rows = [asdict(f) for f in result.fits]
    atomic_write_text(slopes, _csv_text(rows, [f.name for f in PowerLawFit.__dataclass_fields__.values()]))
    times = out_dir / "scaling_times.csv"
    ratios = solver_ratios(result.points, result.reference)
    rows = [{**asdict(p), "reference_solver": result.reference, "ratio_to_reference": ratios.get(p)}
            for p in result.points]
    cols = [*TimingPoint.__dataclass_fields__, "reference_solver", "ratio_to_reference"]
    atomic_write_text(times, _csv_text(rows, cols))
    return {"slopes_csv": slopes, "times_csv": times}


def _n_label(n: int | None) -> str:
    return "n=?" if n is None else f"n={n}"


def plot_scaling(result: ScalingResult, out_dir: Path, formats: Sequence[str] = ("png", "pdf")) -> dict[str, Path]:
    """``scaling.<fmt>``: median solve time (IQR bars) vs size, log-log, one panel per
    (kind, eps), one colour per solver x n, fitted power law drawn with its slope in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullFormatter

    kinds = list(dict.fromkeys(p.kind for p in result.points))
    epss = sorted({p.epsilon for p in result.points})
    solvers = list(dict.fromkeys(p.solver for p in result.points))
    fits = {_series_key(f): f for f in result.fits}
    fig, axes = plt.subplots(len(kinds), len(epss), figsize=(5.2 * len(epss), 4.2 * len(kinds)),
                             squeeze=False, sharey="row")
    for r, kind in enumerate(kinds):
        for c, eps in enumerate(epss):
            ax = axes[r][c]
            pts = [p for p in result.points if p.kind == kind and p.epsilon == eps]
            for si, solver in enumerate(solvers):
                ns = sorted({-1 if p.n is None else p.n for p in pts if p.solver == solver})
                cmap = plt.get_cmap(SOLVER_CMAPS[si % len(SOLVER_CMAPS)])
                for ni, n in enumerate(ns):
                    ser = sorted((p for p in pts if p.solver == solver and (-1 if p.n is None else p.n) == n),
                                 key=lambda q: q.size)
                    color = cmap(0.45 + 0.5 * ni / max(1, len(ns) - 1))
                    x = np.array([p.size for p in ser], float)
                    med = np.array([p.median_s for p in ser])
                    err = np.array([[p.median_s - p.q25_s for p in ser], [p.q75_s - p.median_s for p in ser]])
                    fit = fits.get((solver, kind, n, eps))
                    label = f"{solver} {_n_label(ser[0].n)}"
                    if fit is not None and np.isfinite(fit.slope):
                        se = f" ± {fit.slope_se:.2f}" if np.isfinite(fit.slope_se) else ""
                        label += f": slope {fit.slope:.2f}{se}"
                    marker = SOLVER_MARKERS[si % len(SOLVER_MARKERS)]
                    ax.errorbar(x, med, yerr=err, fmt=marker, color=color, markersize=5, capsize=2,
                                linewidth=1, label=label)
                    partial = np.array([p.exact_fraction < 1.0 for p in ser])
                    if partial.any():  # hollow: some cells not exactly repaired
                        ax.plot(x[partial], med[partial], marker, color=color, markerfacecolor="white",
                                markersize=5, linestyle="none", zorder=5)
                    if fit is not None and np.isfinite(fit.slope):
                        xs = np.geomspace(fit.size_min, fit.size_max, 50)
                        ax.plot(xs, fit.predict(xs), SOLVER_LINES[si % len(SOLVER_LINES)], color=color, linewidth=1.3)
            ax.set_xscale("log")
            ax.set_yscale("log")
            sizes = sorted({p.size for p in pts})
            ax.xaxis.set_major_locator(FixedLocator(sizes))
            ax.xaxis.set_major_formatter(FixedFormatter([f"{s:,}" for s in sizes]))
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(axis="x", labelsize=8)
            ax.set_xlabel(SIZE_LABELS.get(kind, "size"))
            if c == 0:
                ax.set_ylabel("solve seconds per cell (median, IQR)")
            ax.set_title(f"{kind}, eps = {eps:g}")
            ax.grid(True, which="both", alpha=0.25)
            ax.legend(fontsize=7, loc="best")
    fig.suptitle("Repair cost vs model size (fit: log t = a + slope log size, on medians; "
                 "hollow marker: not every cell exactly repaired)", fontsize=10)
    fig.tight_layout()
    from aggregate.plots import save_figure

    saved = save_figure(fig, out_dir, "scaling", formats)
    return {f"scaling_{path.suffix[1:]}": path for path in saved}


def format_summary(result: ScalingResult) -> str:
    """Slopes per series, then per-size ratios to the reference solver (when there are others)."""
    lines = ["fitted slopes b in log t = a + b log size (medians per size; ± standard error):"]
    for f in sorted(result.fits, key=lambda f: (f.kind, f.solver, -1 if f.n is None else f.n, f.epsilon)):
        se = f"± {f.slope_se:.3f}" if np.isfinite(f.slope_se) else "(se n/a)"
        lines.append(f"  {f.solver:>10} {f.kind:<9} {_n_label(f.n):<6} eps={f.epsilon:<5g} "
                     f"{f.size_name}={f.size_min}..{f.size_max} ({f.n_sizes} sizes): "
                     f"slope {f.slope:.3f} {se}  R^2 {f.r2:.3f}")
    others = [s for s in dict.fromkeys(p.solver for p in result.points) if s != result.reference]
    ratios = solver_ratios(result.points, result.reference)
    for solver in others:
        lines.append(f"median time ratio {solver} / {result.reference} per size:")
        pts = sorted((p for p in ratios if p.solver == solver),
                     key=lambda p: (p.kind, -1 if p.n is None else p.n, p.epsilon, p.size))
        for p in pts:
            lines.append(f"  {p.kind:<9} {_n_label(p.n):<6} eps={p.epsilon:<5g} {p.size_name}={p.size:<7} "
                         f"{p.median_s:.4g} s / {p.median_s / ratios[p]:.4g} s = {ratios[p]:.3g}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def _solver_labels(datasets: Sequence[xr.Dataset]) -> list[str]:
    base = [str(ds.attrs.get(S.ATTR_SOLVER) or ds.attrs.get(S.ATTR_SWEEP_NAME) or f"sweep{i}")
            for i, ds in enumerate(datasets)]
    out = []
    for i, (label, ds) in enumerate(zip(base, datasets, strict=True)):
        if base.count(label) > 1:
            label = f"{label}:{ds.attrs.get(S.ATTR_SWEEP_NAME) or i}"
        out.append(label)
    if len(set(out)) < len(out):
        out = [f"{label}#{i}" for i, label in enumerate(out)]
    return out


def scaling_study(
    sweep_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    allow_partial: bool = False,
    formats: Sequence[str] = ("png", "pdf"),
    fit_min_size: int = 0,
) -> ScalingResult:
    """Merge each sweep (aggregate.merge.merge_sweep), time and fit, write figure + CSVs to ``out_dir``.

    Each sweep is labelled by its ``solver`` attribute (sweep name added if two share one);
    the first sweep's solver is the reference of the ratios; fits use sizes >= ``fit_min_size``
    (the figure shows every size). Raises UserError when no model
    of a known kind has a usable time.
    """
    from aggregate.merge import merge_sweep

    datasets = []
    for d in sweep_dirs:
        res = merge_sweep(d, allow_partial=allow_partial)
        if res.dataset is None:
            raise UserError(f"{d}: no valid shard files to time; run the sweep first (`mrsweep run`)")
        datasets.append(res.dataset)
    labels = _solver_labels(datasets)
    points: list[TimingPoint] = []
    notes: list[str] = []
    for label, ds in zip(labels, datasets, strict=True):
        pts, nts = timing_points(ds, label)
        points += pts
        notes += nts
    if not points:
        raise UserError(f"{', '.join(str(d) for d in sweep_dirs)}: no linear or twolayer model with a usable "
                        "solve time; the scaling study needs sweeps of those kinds")
    fits = fit_series(points, fit_min_size)
    if fit_min_size and not fits:
        raise UserError(f"fit_min_size {fit_min_size}: larger than every model size; lower it")
    result = ScalingResult(tuple(points), tuple(fits), labels[0], notes=tuple(notes))
    out = Path(out_dir)
    paths = {**plot_scaling(result, out, formats), **write_csvs(result, out)}
    summary = format_summary(result)
    summary_path = out / "scaling_summary.txt"
    atomic_write_text(summary_path, summary)
    paths["summary_txt"] = summary_path
    return ScalingResult(result.points, result.fits, result.reference, paths, result.notes, summary)

