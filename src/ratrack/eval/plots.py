"""Evaluation plots written as PNG: success and precision plots, per-frame IoU over time.

All trackers of one evaluation share each figure, with their score in the legend as OTB's plots
do (AUC for success, precision at 20 px for precision). Figures are drawn on matplotlib's Agg
canvas directly, so no display and no global backend switch are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ratrack.eval.metrics import PRECISION_PIXELS, precision_thresholds, success_thresholds
from ratrack.outputs import Output


def _figure(width: float = 6.0, height: float = 4.5):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    with Output(path, name="--plot") as out:  # the output policy: whole file or none
        fig.savefig(out.write_path, format="png")
    return path


def plot_success(curves: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Success plot: for each tracker, ``{name: success curve (21,)}`` against IoU threshold."""
    fig, ax = _figure()
    x = success_thresholds()
    ranked = sorted(curves.items(), key=lambda kv: -float(np.mean(kv[1])))
    for name, curve in ranked:
        ax.plot(x, curve, label=f"{name} [{np.mean(curve):.3f}]")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="IoU threshold", ylabel="success rate")
    ax.set_title(f"Success plot {title}".strip())
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small")
    return _save(fig, Path(path))


def plot_precision(curves: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Precision plot: ``{name: precision curve (51,)}`` against centre-error threshold (px)."""
    fig, ax = _figure()
    x = precision_thresholds()
    at = int(PRECISION_PIXELS)
    ranked = sorted(curves.items(), key=lambda kv: -float(kv[1][at]))
    for name, curve in ranked:
        ax.plot(x, curve, label=f"{name} [{curve[at]:.3f}]")
    ax.axvline(PRECISION_PIXELS, color="gray", lw=0.8, ls="--")
    ax.set(xlim=(0, x[-1]), ylim=(0, 1.02), xlabel="centre error threshold (pixels)")
    ax.set(ylabel="precision")
    ax.set_title(f"Precision plot {title}".strip())
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return _save(fig, Path(path))


def plot_iou_over_time(ious: Mapping[str, np.ndarray], path: str | Path, title: str = "") -> Path:
    """Per-frame IoU ``{name: (T,)}`` over frame index (NaN frames, without ground truth, gap)."""
    fig, ax = _figure(8.0, 4.0)
    for name, values in ious.items():
        values = np.asarray(values, np.float64)
        ax.plot(np.arange(len(values)), values, lw=1.0, label=name)
    ax.set(ylim=(0, 1.02), xlabel="frame", ylabel="IoU")
    ax.set_title(f"IoU over time {title}".strip())
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize="small", ncol=3)
    return _save(fig, Path(path))
