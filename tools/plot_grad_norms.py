"""Plot per-component gradient norms of two tracker runs (with / without pretraining).

python tools/plot_grad_norms.py runs/bmnist/train/log.csv runs/bmnist/scratch/log.csv out.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

COMPONENTS = ("grid_generator", "conv_net", "rnn", "tracking_head", "localization_head")


def _read(path: Path, max_step: int | None) -> dict[str, list[float]]:
    with Path(path).open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if max_step is None or int(r["step"]) <= max_step]
    return {k: [float(r[k]) for r in rows] for k in ("step", *(f"grad_{c}" for c in COMPONENTS))}


def plot_grad_norms(
    with_log: Path, without_log: Path, out: Path, max_step: int | None = None
) -> Path:
    """One panel per component, gradient L2 norm against step, both runs, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = {
        "with pretraining": _read(with_log, max_step),
        "from scratch": _read(without_log, max_step),
    }
    fig, axes = plt.subplots(1, len(COMPONENTS), figsize=(4 * len(COMPONENTS), 3.2), sharex=True)
    for ax, name in zip(axes, COMPONENTS, strict=True):
        for label, data in runs.items():
            ax.plot(data["step"], data[f"grad_{name}"], label=label, lw=1)
        ax.set_yscale("log")
        ax.set_title(name.replace("_", " "))
        ax.set_xlabel("step")
    axes[0].set_ylabel("gradient L2 norm")
    axes[0].legend()
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def summarize(
    with_log: Path, without_log: Path, max_step: int | None = None
) -> dict[str, dict[str, float]]:
    """Mean and coefficient of variation of each component's gradient norm, per run."""
    import statistics

    result = {}
    for label, path in (("with", with_log), ("without", without_log)):
        data = _read(path, max_step)
        for c in COMPONENTS:
            v = data[f"grad_{c}"]
            if not v:
                continue
            mean = statistics.fmean(v)
            result.setdefault(c, {})[f"{label}_mean"] = mean
            result[c][f"{label}_cv"] = statistics.pstdev(v) / mean if mean else 0.0
    return result


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("with_log", type=Path)
    p.add_argument("without_log", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--max-step", type=int, default=None)
    a = p.parse_args()
    print(plot_grad_norms(a.with_log, a.without_log, a.out, a.max_step))
    for comp, s in summarize(a.with_log, a.without_log, a.max_step).items():
        print(comp, {k: round(v, 4) for k, v in s.items()})
