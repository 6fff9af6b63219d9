"""Helpers shared by the command groups: progress bars, JSON output, the real data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer

from ratrack.errors import RatrackError


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

    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)  # atomic: a reader never sees half a file
    typer.echo(f"json: {path}")


def _data_root(root: Path | None) -> Path:
    """The real data folder: ``root``, else ``$RATRACK_DATA``, else ``../shared/data``."""

    path = root or Path(os.environ.get("RATRACK_DATA", "../shared/data"))
    if not path.is_dir():
        raise RatrackError(f"{path}: real data folder not found (give --root or RATRACK_DATA)")
    return path
