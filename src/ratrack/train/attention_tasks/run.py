"""Run one attention task by name (``ratrack attention train``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ratrack.errors import ConfigError
from ratrack.train.attention_tasks import TASKS, Progress, TaskResult, draw, ntm, ram, stn

_MODULES = {"stn": stn, "draw": draw, "ntm": ntm, "ram": ram}


def run_task(
    task: str,
    *,
    out_dir: str | Path,
    seed: int = 0,
    steps: int | None = None,
    mnist: str | None = None,
    progress: Progress | None = None,
) -> TaskResult:
    """Train ``task`` (one of :data:`TASKS`) with its default config, changed by the given
    settings where the task has them (``steps`` None: the task's own; the NTM copy task reads no
    MNIST), figures in ``out_dir``."""
    if task not in TASKS:
        raise ConfigError("task", f"{task!r} is unknown; expected one of {', '.join(TASKS)}")
    if steps is not None and steps <= 0:
        raise ConfigError("steps", f"must be positive, got {steps}")
    module = _MODULES[task]
    changes: dict[str, object] = {"seed": seed, "out_dir": str(out_dir)}
    if steps is not None:
        changes["steps"] = steps
    if mnist is not None:
        changes["mnist"] = mnist
    fields = {f.name for f in dataclasses.fields(module.Config)}
    config = module.Config(**{k: v for k, v in changes.items() if k in fields})
    return module.run(config, progress=progress)
