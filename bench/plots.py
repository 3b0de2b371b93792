"""Matplotlib helpers for bench results: paired bars (direct vs proxy), drawn headless.

Every figure is a paired comparison from one run on one machine, so each chart puts the two
bars of a pair side by side with the spread over runs as error bars, and the ratio above them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

DIRECT_COLOR = "#4c72b0"
PROXY_COLOR = "#dd8452"


@dataclass(frozen=True)
class PairedBar:
    """One comparison: a label, the runs of each side (median drawn, min..max as error bar).

    `note` is printed above the pair; without one, the ratio of the medians (proxy/direct).
    """

    label: str
    direct: Sequence[float]
    proxy: Sequence[float]
    note: str | None = None


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def _spread(values: Sequence[float]) -> tuple[float, float]:
    """(below, above) the median: what matplotlib's asymmetric `yerr` wants."""
    median = _median(values)
    return median - min(values), max(values) - median


def draw_pairs(ax: Axes, pairs: Sequence[PairedBar], unit: str, title: str) -> None:
    """Direct and proxy bars per comparison on one axis, with each pair's note above it."""
    width = 0.38
    for i, pair in enumerate(pairs):
        for offset, values, color, name in ((-width / 2, pair.direct, DIRECT_COLOR, "direct"),
                                            (width / 2, pair.proxy, PROXY_COLOR, "proxy")):
            below, above = _spread(values)
            ax.bar(i + offset, _median(values), width, color=color, label=name if i == 0 else None,
                   yerr=[[below], [above]], capsize=4)
        note = pair.note
        if note is None and _median(pair.direct) > 0:
            note = f"x{_median(pair.proxy) / _median(pair.direct):.2f}"
        if note:
            top = max(max(pair.direct), max(pair.proxy))
            ax.annotate(note, (i, top), textcoords="offset points", xytext=(0, 6), ha="center")
    ax.set_xticks(range(len(pairs)), [pair.label for pair in pairs])
    ax.set_ylabel(unit)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8, framealpha=0.6)
    ax.margins(y=0.15)


def save_figure(panels: Sequence[tuple[Sequence[PairedBar], str, str]], path: Path, suptitle: str) -> Path:
    """One row of panels, each (pairs, unit, title), written as a PNG."""
    figure, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5), squeeze=False)
    for ax, (pairs, unit, title) in zip(axes[0], panels, strict=True):
        draw_pairs(ax, pairs, unit, title)
    figure.suptitle(suptitle, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
