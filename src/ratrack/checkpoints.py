"""Versioned, atomic checkpoints loadable with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict ``{"format_version", "kind", "config", "model", "optimizer",
"step", "metrics"}``; ``config`` is a dataclass turned into a dict of plain values so the model can
be rebuilt from it without unpickling code.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import torch

from ratrack.errors import ConfigError, RatrackError
from ratrack.model.config import TrackerConfig
from ratrack.model.tracker import RecurrentTracker
from ratrack.outputs import Output

FORMAT_VERSION = 1
TRACKER_KIND = "tracker"  # checkpoints of a RecurrentTracker (training and shipped weights)
PRETRAIN_KIND = "pretrain"  # checkpoints of the misalignment pretraining (GlimpseCorrector)


def save_checkpoint(
    path: str | Path,
    *,
    kind: str,
    config: Any,
    model: dict[str, torch.Tensor],
    optimizer: dict[str, Any] | None = None,
    step: int = 0,
    metrics: dict[str, float] | None = None,
) -> Path:
    """Write a checkpoint under the output policy (:mod:`ratrack.outputs`): to a temporary
    file in the same folder, then renamed over ``path``, so a reader (or a resumed run) never
    sees half a checkpoint."""
    path = Path(path)
    payload = {
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "config": dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config),
        "model": model,
        "optimizer": optimizer,
        "step": int(step),
        "metrics": dict(metrics or {}),
    }
    with Output(path, name="checkpoint") as out:
        torch.save(payload, out.write_path)
    return path


def load_checkpoint(
    path: str | Path, *, kind: str | None = None, map_location: Any = "cpu"
) -> dict:
    """Load a checkpoint with ``weights_only=True``; check its version, (optionally) its kind,
    and that its weights are finite (a diverged run's NaN weights would track nothing)."""
    path = Path(path)
    if not path.is_file():
        raise RatrackError(f"{path}: checkpoint not found")
    try:
        if isinstance(map_location, str):
            torch.device(map_location)
    except RuntimeError:
        raise ConfigError(
            "device", f"{map_location!r} is not a torch device (cpu, cuda, cuda:1)"
        ) from None
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise RatrackError(
            f"{path}: not a readable ratrack checkpoint ({exc.__class__.__name__})"
        ) from None
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise RatrackError(f"{path}: not a ratrack checkpoint (no format_version)")
    version = payload["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise RatrackError(
            f"{path}: not a ratrack checkpoint (format_version {version!r} is not a version number)"
        )
    if version > FORMAT_VERSION:
        raise RatrackError(
            f"{path}: checkpoint format {payload['format_version']} is newer than this ratrack "
            f"({FORMAT_VERSION}); upgrade ratrack"
        )
    if kind is not None and payload.get("kind") != kind:
        raise RatrackError(f"{path}: checkpoint holds a {payload.get('kind')!r}, expected {kind!r}")
    weights = payload.get("model")
    if not isinstance(weights, dict):
        raise RatrackError(f"{path}: not a ratrack checkpoint (no model weights)")
    for name, value in weights.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            if not bool(torch.isfinite(value).all()):
                raise RatrackError(
                    f"{path}: weights are not finite ({name} holds NaN or infinity); "
                    "the run that wrote them diverged"
                )
    return payload


def load_weights(module: torch.nn.Module, state: dict[str, Any], path: object) -> None:
    """``module.load_state_dict(state)``; a mismatch raises ``RatrackError`` naming ``path``
    and a few of the parameters that differ (not torch's whole listing)."""
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [k for k in own if k in state and getattr(state[k], "shape", None) != own[k].shape]
    if missing or unexpected or shapes:
        parts = [
            f"{len(names)} {what} ({', '.join(names[:2])}{', ...' if len(names) > 2 else ''})"
            for names, what in (
                (missing, "missing"),
                (unexpected, "unexpected"),
                (shapes, "of another shape"),
            )
            if names
        ]
        raise RatrackError(
            f"{path}: its weights were made for another model config: {'; '.join(parts)}"
        )
    module.load_state_dict(state)


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Rebuild a (possibly nested) frozen dataclass config from its stored dict.

    Keys that are not fields are ignored, except fields the class lists as removed
    (``cls.REMOVED``, name -> the one value they had): a stored value other than that one
    raises ``ValueError`` naming the field, since this code cannot build that model.
    """
    for name, only in getattr(cls, "REMOVED", {}).items():
        if name in values and values[name] != only:
            raise ValueError(
                f"{cls.__name__}.{name}={values[name]!r} is no longer supported "
                f"(the field was removed; only {only!r} is)"
            )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in values:
            continue
        value = values[f.name]
        ftype = hints.get(f.name)
        if isinstance(ftype, type) and dataclasses.is_dataclass(ftype) and isinstance(value, dict):
            value = config_from_dict(ftype, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def save_tracker(
    path: str | Path,
    model: RecurrentTracker,
    *,
    train_config: Any = None,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    metrics: dict[str, float] | None = None,
) -> Path:
    """Write a tracker checkpoint (model config stored under ``config["model"]``, the training
    config dataclass, if given, under ``config["train"]``)."""
    config = {"model": dataclasses.asdict(model.config)}
    if train_config is not None:
        config["train"] = dataclasses.asdict(train_config)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    return save_checkpoint(
        path,
        kind=TRACKER_KIND,
        config=config,
        model=state,
        optimizer=optimizer.state_dict() if optimizer is not None else None,
        step=step,
        metrics=metrics,
    )


def load_tracker(
    path: str | Path, *, map_location: str | torch.device = "cpu"
) -> tuple[RecurrentTracker, dict]:
    """Rebuild a :class:`RecurrentTracker` from a checkpoint; returns ``(model, payload)``."""
    payload = load_checkpoint(path, kind=TRACKER_KIND, map_location=map_location)
    try:
        config = config_from_dict(TrackerConfig, payload["config"]["model"])
        model = RecurrentTracker(config=config)
    except (KeyError, TypeError, RuntimeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise RatrackError(f"{path}: not a valid tracker checkpoint ({reason})") from None
    load_weights(model, payload["model"], path)
    return model.to(map_location), payload
