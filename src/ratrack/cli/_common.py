"""Helpers shared by the command groups: progress bars, JSON output, the real data folder, and
the one table from config fields to the options that set them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import typer

from ratrack.errors import ConfigError, RatrackError
from ratrack.outputs import write_text

OPTIONS = {  # config field -> command-line option (the same name in every command)
    "steps": "--steps",
    "batch_size": "--batch",
    "lr": "--lr",
    "seed": "--seed",
    "iou_threshold": "--iou-threshold",
    "min_score": "--min-score",
    "birth_score": "--birth-score",
    "max_misses": "--max-misses",
    "max_frames": "--max-frames",
    "out_format": "--format",
    "object_type": "--object-type",
    "device": "--device",
    "weights": "--weights",
    "canvas_size": "--canvas",
    "num_digits": "--digits",
    "length": "--length",
    "num_sequences": "--num",
    "sequences": "--sequences",
    "digits": "--digits",
    "frames": "--frames",
    "threads": "--threads",
    "peer_objects": "--peer-objects",
    "peer": "--peer",
    "batch_sizes": "--batch-sizes",
    "sizes": "--sizes",
    "statistic": "--statistic",
    "pool": "--pool",
}


def user_message(exc: RatrackError) -> str:
    """The one-line message of ``exc``, a :class:`ConfigError` naming its option, not its field."""
    if isinstance(exc, ConfigError):
        return f"{OPTIONS.get(exc.field, exc.field)} {exc.reason}"
    return " ".join(str(exc).split())


def config_error(exc: ValueError) -> RatrackError:
    """A ``ValueError`` raised while building a config, as a user error: a :class:`ConfigError`
    as it is; another message has the config fields it names replaced by their options."""
    if isinstance(exc, ConfigError):
        return exc
    message = re.sub(r"\b[a-z_]+\b", lambda m: OPTIONS.get(m.group(0), m.group(0)), str(exc))
    return RatrackError(message)


def _progress_bar(desc: str):
    """A tqdm bar and the ``progress(step, total, loss)`` callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="step", dynamic_ncols=True)

    def progress(step: int, total: int, loss: float) -> None:
        bar.total = total
        bar.n = step
        bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        bar.refresh()

    return bar, progress


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
