from dataclasses import dataclass, field

import pytest
import torch

from ratrack.checkpoints import (
    FORMAT_VERSION,
    config_from_dict,
    load_checkpoint,
    load_tracker,
    save_checkpoint,
)
from ratrack.errors import RatrackError
from ratrack.model.config import TrackerConfig
from ratrack.track.online import pretrained_path


@dataclass(frozen=True)
class Inner:
    width: int = 8
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    name: str = "m"
    inner: Inner = field(default_factory=Inner)


def test_round_trip_weights_only(tmp_path):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    config = Outer(name="x", inner=Inner(width=4, sizes=(3, 5)))
    path = save_checkpoint(
        tmp_path / "sub" / "c.pt",
        kind="test",
        config=config,
        model=model.state_dict(),
        optimizer=opt.state_dict(),
        step=7,
        metrics={"iou": 0.5},
    )
    raw = torch.load(path, weights_only=True)
    assert raw["format_version"] == FORMAT_VERSION
    ckpt = load_checkpoint(path, kind="test")
    assert ckpt["step"] == 7 and ckpt["metrics"] == {"iou": 0.5}
    assert config_from_dict(Outer, ckpt["config"]) == config
    restored = torch.nn.Linear(3, 2)
    restored.load_state_dict(ckpt["model"])
    assert torch.equal(restored.weight, model.weight)
    opt2 = torch.optim.Adam(restored.parameters())
    opt2.load_state_dict(ckpt["optimizer"])
    assert opt2.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert [p.name for p in path.parent.iterdir()] == ["c.pt"]  # no temp file left behind


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(RatrackError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    with pytest.raises(RatrackError, match="not a readable ratrack checkpoint"):
        load_checkpoint(junk)
    path = save_checkpoint(tmp_path / "a.pt", kind="draw", config=Inner(), model={})
    with pytest.raises(RatrackError, match="expected 'tracker'"):
        load_checkpoint(path, kind="tracker")


def test_shipped_checkpoints_hold_removed_fields_at_their_value_and_load(tmp_path):
    """bmnist.pt predates the removal of TrackerConfig's constant flags: its stored config
    holds them at the one value the code keeps, and loads (natural.pt was saved since, without
    them); another value is refused."""
    for name in ("bmnist", "natural"):
        payload = torch.load(pretrained_path(name), weights_only=True)
        stored = payload["config"]["model"]
        held = {k: stored[k] for k in TrackerConfig.REMOVED if k in stored}
        assert held == (TrackerConfig.REMOVED if name == "bmnist" else {})
        model, _ = load_tracker(pretrained_path(name))
        assert config_from_dict(TrackerConfig, stored) == model.config
        payload["config"]["model"] = {**stored, "recenter": False}
        changed = tmp_path / f"{name}.pt"
        torch.save(payload, changed)
        with pytest.raises(RatrackError, match=r"TrackerConfig\.recenter=False is no longer"):
            load_tracker(changed)
