"""Helpers shared by the command groups: progress bars, JSON output, the real data folder, and
the one table from config fields to the options that set them."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import typer

from ratrack.errors import ConfigError, RatrackError
from ratrack.outputs import write_text

OPTIONS = {
    # library setting (config field or argument) -> the option that sets it; the one table
    "amp": "--amp",
    "batch_size": "--batch",
    "batch_sizes": "--batch-sizes",
    "birth_score": "--birth-score",
    "canvas_size": "--canvas",
    "data": "--data",
    "det_format": "--det-format",
    "device": "--device",
    "digits": "--digits",
    "fmt": "--format",
    "high_score": "--high-score",
    "frames_dir": "--frames-dir",
    "frames": "--frames",
    "init": "--init",
    "init_file": "--init-file",
    "init_format": "--init-format",
    "iou_threshold": "--iou-threshold",  # (ratrack eval mot checks its --iou itself)
    "kitti_root": "--kitti",
    "length": "--length",
    "low_iou_threshold": "--low-iou-threshold",
    "lr": "--lr",
    "max_frames": "--max-frames",
    "max_misses": "--max-misses",
    "min_hits": "--min-hits",
    "min_score": "--min-score",
    "num_digits": "--digits",
    "num_sequences": "--num",
    "object_type": "--object-type",
    "out_format": "--format",
    "pred_format": "--pred-format",
    "peer": "--peer",
    "peer_objects": "--peer-objects",
    "peers": "--peers",
    "pool": "--pool",
    "seed": "--seed",
    "sequence": "--sequence",
    "sequences": "--sequences",
    "root": "--root",
    "sizes": "--sizes",
    "source": "SOURCE",
    "statistic": "--statistic",
    "steps": "--steps",
    "task": "TASK",
    "threads": "--threads",
    "weights": "--weights",
    "workers": "--workers",
}


def parse_assignments(spec: str) -> dict:
    """``"KNOB=VALUE,..."`` (a tool's ``--set``) as a dict; each VALUE read as JSON (``true``,
    ``0.3``), else kept as a string. An empty spec gives ``{}``; an item without ``=`` raises
    ``ValueError`` naming it."""
    out = {}
    for item in filter(None, spec.split(",")):
        knob, sep, value = item.partition("=")
        if not sep or not knob.strip():
            raise ValueError(f"--set expects KNOB=VALUE items, got {item!r}")
        try:
            out[knob.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[knob.strip()] = value.strip()
    return out


def option_error(exc: ConfigError) -> RatrackError:
    """``exc`` with its field shown as the option that sets it (:data:`OPTIONS`)."""
    return RatrackError(exc.message(OPTIONS.get(exc.field, exc.field)))


def user_error(exc: ValueError, *configs: type) -> RatrackError:
    """A ``ValueError`` from building ``configs`` as a one-line user error naming the option.

    Configs raise :class:`ConfigError` (which names its field) or a ``ValueError`` whose message
    starts with the field's name; both become :func:`option_error`.
    """
    if not isinstance(exc, ConfigError):
        name, _, detail = str(exc).partition(" ")
        fields = {f.name for config in configs for f in dataclasses.fields(config)}
        if name not in fields:
            return RatrackError(str(exc))
        exc = ConfigError(name, detail)
    return option_error(exc)


def user_message(exc: RatrackError) -> str:
    """The one-line message of ``exc``; a :class:`ConfigError` names its option, not its field."""
    if isinstance(exc, ConfigError):
        exc = option_error(exc)
    return " ".join(str(exc).split())


class _StepBar:
    """A tqdm bar of training steps, started by the first step (so that an error before any
    step prints one line) and closed on leaving the ``with`` block."""

    def __init__(self, desc: str) -> None:
        self.desc = desc
        self.bar = None

    def __call__(self, step: int, total: int, loss: float) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc=self.desc, unit="step", dynamic_ncols=True)
        self.bar.total = total
        self.bar.n = step
        self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar.refresh()

    def __enter__(self) -> _StepBar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(desc: str):
    """A step bar (a context manager) and the ``progress(step, total, loss)`` callback that
    drives it: the same object."""
    bar = _StepBar(desc)
    return bar, bar


def _write_json(path: Path | None, data: dict) -> None:
    """Write ``data`` as JSON under the output policy (:mod:`ratrack.outputs`)."""
    if path is None:
        return
    write_text(path, json.dumps(data, indent=2) + "\n", name="--json")
    typer.echo(f"json: {path}")


def _data_root(root: Path | None) -> Path:
    """The real data folder: ``root``, else ``$RATRACK_DATA``, else ``../shared/data``."""

    path = root or Path(os.environ.get("RATRACK_DATA", "../shared/data"))
    if not path.is_dir():
        raise RatrackError(f"{path}: real data folder not found (give --root or RATRACK_DATA)")
    return path
