"""Classic tasks that show each attention module learns (the ``ratrack attention train`` command).

Each task module (``stn``, ``draw``, ``ntm``, ``ram``) exposes a frozen ``Config`` dataclass and
``run(config, progress=None) -> TaskResult``. ``progress`` is called after every training step as
``progress(step, total_steps, loss)`` so the CLI can drive a progress bar; the library itself only
logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Progress = Callable[[int, int, float], None]

TASKS = ("stn", "draw", "ntm", "ram")


@dataclass(frozen=True)
class TaskResult:
    """What a task measured: named scores (printed by the CLI) and the figures it wrote."""

    scores: dict[str, float]
    figures: list[Path] = field(default_factory=list)
    seconds: float = 0.0
