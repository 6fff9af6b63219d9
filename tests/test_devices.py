"""The device setting, parsed in one place (CUDA devices themselves: tests/train/test_cuda.py)."""

import pytest
import torch

from ratrack.devices import resolve_device
from ratrack.errors import ConfigError


def test_resolve_device(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("AUTO").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="device must be one of") as info:
        resolve_device("tpu")
    assert info.value.field == "device"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    for name in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match="no CUDA device"):
            resolve_device(name)
