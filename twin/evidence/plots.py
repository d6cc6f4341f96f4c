"""The evidence plots (PNG): station states, buffer levels, throughput, state breakdown, lead times.

Each function takes plain data (lists, dicts, floats) and a path, draws with
matplotlib's object API on the Agg canvas (no pyplot, no global state) and
returns the path it wrote. Output is byte-stable for the same data and
matplotlib version: fixed size and dpi, the bundled DejaVu font, a fixed
`svg.hashsalt`, and PNG metadata without the `Software` entry.

Times on the x axes are hours from the start of the run; the warm-up is
hatched grey, injection windows are shaded red. Labels come from the `en`
catalog (matplotlib's bundled font has no CJK glyphs; the HTML report
translates the captions).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from twin.accounting import STATES
from twin.evidence.i18n import Text
from twin.evidence.timeline import TIMELINE_STATES

COLORS = {"working": "#2e7d32", "setup": "#1565c0", "blocked": "#ef6c00", "down": "#c62828",
          "starved": "#9e9e9e", "off": "#424242", "waiting_resource": "#6a1b9a"}
_RC = {"svg.hashsalt": "twin-evidence", "font.family": "DejaVu Sans", "font.size": 9,
       "path.simplify": False}
_DPI = 100
#: candidate bin widths for throughput over time (seconds)
_BINS = (300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    with matplotlib.rc_context(_RC):
        fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})
    return path


def _legend(ax) -> None:
    """A legend right of the axes, if anything carries a label."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)


def _shade(ax, warmup: float, windows: list[tuple[float, float]], t) -> None:
    if warmup > 0:
        ax.axvspan(0, warmup / 3600, facecolor="#eeeeee", hatch="//", edgecolor="#bbbbbb",
                   linewidth=0, zorder=0, label=t("plot.warmup"))
    for k, (start, end) in enumerate(windows):
        ax.axvspan(start / 3600, end / 3600, facecolor="#e53935", alpha=0.18, linewidth=0, zorder=0,
                   label=t("plot.injection") if k == 0 else None)


def state_timeline(intervals: dict[str, list[tuple[float, float, str]]],
                   windows: list[tuple[float, float]], warmup: float, horizon: float,
                   path: str | Path) -> Path:
    """One row per station: when it was working, in setup, waiting for a resource, blocked,
    down or off (replication 0)."""
    t = Text("en")
    with matplotlib.rc_context(_RC):
        names = list(intervals)
        fig = _figure(10, 1.2 + 0.45 * max(len(names), 1))
        ax = fig.add_subplot()
        _shade(ax, warmup, windows, t)
        for row, name in enumerate(reversed(names)):
            for state in TIMELINE_STATES:
                bars = [(s / 3600, (e - s) / 3600) for s, e, st in intervals[name] if st == state]
                if bars:
                    ax.broken_barh(bars, (row - 0.4, 0.8), facecolors=COLORS[state], linewidth=0)
        shown = {st for rows in intervals.values() for _, _, st in rows}
        for state in TIMELINE_STATES:
            if state in shown or state in ("working", "down"):
                ax.bar(0, 0, color=COLORS[state], label=t(f"state.{state}"))
        ax.set_yticks(range(len(names)), list(reversed(names)))
        ax.set_xlim(0, horizon / 3600)
        ax.set_ylim(-0.6, max(len(names), 1) - 0.4)
        ax.set_xlabel(t("plot.hours"))
        ax.set_title(t("plot.timeline"))
        _legend(ax)
        fig.tight_layout()
    return _save(fig, path)


def buffer_levels(levels: dict[str, list[tuple[float, int]]], capacities: dict[str, int],
                  windows: list[tuple[float, float]], warmup: float, horizon: float,
                  path: str | Path) -> Path:
    """Parts in each buffer over time (steps), with its capacity dotted (replication 0)."""
    t = Text("en")
    with matplotlib.rc_context(_RC):
        fig = _figure(10, 3.2)
        ax = fig.add_subplot()
        _shade(ax, warmup, windows, t)
        for k, (name, steps) in enumerate(levels.items()):
            color = f"C{k % 10}"
            xs = [s[0] / 3600 for s in steps] + [horizon / 3600]
            ys = [s[1] for s in steps] + [steps[-1][1]]
            ax.step(xs, ys, where="post", color=color, linewidth=1, label=name)
            ax.axhline(capacities.get(name, 0), color=color, linestyle=":", linewidth=0.8)
        if not levels:
            ax.text(0.5, 0.5, t("plot.no_buffers"), ha="center", va="center", transform=ax.transAxes)
        ax.set_xlim(0, horizon / 3600)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(t("plot.hours"))
        ax.set_ylabel(t("plot.parts"))
        ax.set_title(t("plot.buffers"))
        _legend(ax)
        fig.tight_layout()
    return _save(fig, path)


def bin_width(horizon: float) -> float:
    """The smallest of 5 min, 10 min, ... 1 d giving at most 48 bins over the run."""
    return float(next((b for b in _BINS if horizon / b <= 48), _BINS[-1]))


def throughput(exit_times: list[float], windows: list[tuple[float, float]], warmup: float,
               horizon: float, path: str | Path) -> Path:
    """Good parts per hour reaching the sinks, in bins of :func:`bin_width` (replication 0).

    A part reaching a sink at time t counts in bin k with k·w < t ≤ (k+1)·w.
    """
    t = Text("en")
    width = bin_width(horizon)
    n_bins = max(int(-(-horizon // width)), 1)
    counts = [0] * n_bins
    for time in exit_times:  # bins are (k·w, (k+1)·w], like the measured window
        counts[min(max(math.ceil(time / width) - 1, 0), n_bins - 1)] += 1
    with matplotlib.rc_context(_RC):
        fig = _figure(10, 3.2)
        ax = fig.add_subplot()
        _shade(ax, warmup, windows, t)
        lefts = [k * width / 3600 for k in range(n_bins)]
        rates = [c * 3600.0 / width for c in counts]
        ax.bar(lefts, rates, width=width / 3600, align="edge", color="#1565c0", edgecolor="white",
               linewidth=0.5, label=t("plot.good_per_hour"))
        ax.set_xlim(0, horizon / 3600)
        ax.set_xlabel(t("plot.hours"))
        ax.set_ylabel(t("plot.parts_per_hour"))
        ax.set_title(t("plot.throughput", minutes=f"{width / 60:g}"))
        _legend(ax)
        fig.tight_layout()
    return _save(fig, path)


def state_breakdown(fractions: dict[str, dict[str, float]], path: str | Path) -> Path:
    """Stacked bars: mean share of each state per station (over replications)."""
    t = Text("en")
    names = list(fractions)
    with matplotlib.rc_context(_RC):
        fig = _figure(10, 1.2 + 0.4 * max(len(names), 1))
        ax = fig.add_subplot()
        left = [0.0] * len(names)
        rows = list(range(len(names)))[::-1]
        for state in STATES:
            values = [fractions[n].get(state) or 0.0 for n in names]
            if any(values):
                ax.barh(rows, values, left=left, color=COLORS[state], label=t(f"state.{state}"))
                left = [a + b for a, b in zip(left, values)]
        ax.set_yticks(rows, names)
        ax.set_xlim(0, 1)
        ax.set_xlabel(t("plot.share"))
        ax.set_title(t("plot.breakdown"))
        _legend(ax)
        fig.tight_layout()
    return _save(fig, path)


def lead_time_histogram(points: list[tuple[np.ndarray, np.ndarray | None]], path: str | Path) -> Path:
    """Histogram of lead times (minutes) of every part finished in the window, all replications.

    `points` holds each replication's (lead times, counts): counts None for every lead time
    itself, else the buckets of a replication with very many (`twin.lead_times`).
    """
    t = Text("en")
    minutes = np.concatenate([values for values, _ in points] or [np.zeros(0)]) / 60
    counts = np.concatenate([np.ones(values.size, np.int64) if c is None else c
                             for values, c in points] or [np.zeros(0, np.int64)])
    weights = counts if any(c is not None for _, c in points) else None
    parts = int(counts.sum())
    with matplotlib.rc_context(_RC):
        fig = _figure(10, 3.2)
        ax = fig.add_subplot()
        if parts:
            ax.hist(minutes, bins=min(40, max(5, np.unique(minutes).size)), weights=weights,
                    color="#2e7d32", edgecolor="white", linewidth=0.5)
        else:
            ax.text(0.5, 0.5, t("plot.no_parts"), ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(t("plot.lead_time_min"))
        ax.set_ylabel(t("plot.parts"))
        ax.set_title(t("plot.lead_times", n=parts))
        fig.tight_layout()
    return _save(fig, path)
