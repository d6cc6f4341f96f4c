"""Plots of a sweep (``DIR/plots/``): KPI curves over one parameter, a heatmap over two.

One parameter: each main KPI (throughput, mean lead time, mean WIP) against
the parameter, with its confidence band. Two parameters: a heatmap of mean
throughput. With a scenario the feasible points (every criterion passes) are
marked. Three or more parameters: no plots (the CSVs hold everything).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from twin.sweep import Sweep, _umask, feasible, point_summary  # noqa: E402

PLOT_KEYS = {"throughput": "throughput [parts/h]", "lead_time_mean": "mean lead time [s]",
             "wip_mean": "mean WIP [parts]"}
FEASIBLE_COLOR, INFEASIBLE_COLOR = "tab:green", "tab:red"


def write_plots(sweep: Sweep, results: list[dict], plots_dir: Path) -> list[Path]:
    """Draw into a temporary folder, then put it in place of `plots_dir` (of whatever stands
    there: the plots are rewritten on every run, as the CSVs are); return the files."""
    plots_dir = Path(plots_dir)
    tmp = Path(tempfile.mkdtemp(prefix=".plots-", dir=plots_dir.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes 0700; give what mkdir() would
    try:
        if len(sweep.params) == 1:
            for key, label in PLOT_KEYS.items():
                _curve(sweep, results, key, label, tmp / f"{key}.png")
        elif len(sweep.params) == 2:
            _heatmap(sweep, results, tmp / "throughput_heatmap.png")
        _remove(plots_dir)
        tmp.rename(plots_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sorted(plots_dir.glob("*.png"))


def _remove(path: Path) -> None:
    """The old plots folder, or a file or symbolic link in its place (rmtree refuses links)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def _positions(values: tuple) -> tuple[np.ndarray, list[str] | None]:
    """Numbers stay on a numeric axis; anything else (durations, words) on evenly spaced ticks."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.array(values, np.float64), None
    return np.arange(len(values), dtype=np.float64), [str(v) for v in values]


def _number(value) -> float:
    return math.nan if value is None else float(value)


def _curve(sweep: Sweep, results: list[dict], key: str, label: str, path: Path) -> None:
    param = sweep.params[0]
    x, ticks = _positions(param.values)
    stats = [point_summary(r, key) for r in results]
    mean = np.array([_number(s["mean"]) for s in stats])
    low = np.array([_number(s["ci95"][0]) for s in stats])
    high = np.array([_number(s["ci95"][1]) for s in stats])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.fill_between(x, low, high, color="tab:blue", alpha=0.2, label="95 % interval")
    ax.plot(x, mean, color="tab:blue", marker="o", label="mean")
    if sweep.criteria:
        ok = np.array([feasible(r) for r in results])
        ax.scatter(x[ok], mean[ok], s=90, facecolors="none", edgecolors=FEASIBLE_COLOR, linewidths=2,
                   zorder=3, label="feasible (all criteria pass)")
        ax.scatter(x[~ok], mean[~ok], s=60, marker="x", color=INFEASIBLE_COLOR, zorder=3,
                   label="a criterion fails")
    if ticks is not None:
        ax.set_xticks(x, ticks)
    ax.set_xlabel(param.path)
    ax.set_ylabel(label)
    ax.set_title(f"{sweep.line_id}: {key} over {param.path}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _heatmap(sweep: Sweep, results: list[dict], path: Path) -> None:
    rows, cols = sweep.params  # rows: first parameter (y), columns: second (x)
    shape = (len(rows.values), len(cols.values))
    mean = np.array([_number(point_summary(r, "throughput")["mean"]) for r in results]).reshape(shape)
    fig, ax = plt.subplots(figsize=(1.3 * shape[1] + 3, 0.8 * shape[0] + 2.2))
    image = ax.imshow(np.ma.masked_invalid(mean), origin="lower", cmap="viridis", aspect="auto")
    fig.colorbar(image, ax=ax, label=PLOT_KEYS["throughput"])
    ax.set_xticks(range(shape[1]), [str(v) for v in cols.values])
    ax.set_yticks(range(shape[0]), [str(v) for v in rows.values])
    ax.set_xlabel(cols.path)
    ax.set_ylabel(rows.path)
    for (i, j), value in np.ndenumerate(mean):
        r, g, b, _ = image.cmap(image.norm(value)) if not math.isnan(value) else (1, 1, 1, 1)
        ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"  # readable on the cell
        ax.text(j, i, "–" if math.isnan(value) else f"{value:.1f}", ha="center", va="center",
                color=ink, fontsize="small")
    title = f"{sweep.line_id}: mean throughput"
    if sweep.criteria:
        ok = np.array([feasible(r) for r in results]).reshape(shape)
        for i, j in zip(*np.nonzero(ok)):
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False,
                                       edgecolor=FEASIBLE_COLOR, linewidth=3))
        title += " (green frame: feasible, all criteria pass)"
    ax.set_title(title, fontsize="medium")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
