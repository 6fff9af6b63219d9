"""The device setting, parsed in one place (CUDA devices themselves: tests/train/test_cuda.py)."""

import platform
import resource
import sys

import pytest
import torch

from ratrack.devices import keep_freed_memory, resolve_device
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


def test_kept_memory_is_reused_without_page_faults():
    """After :func:`keep_freed_memory`, a frame's worth of tensors (2 MB blocks, 12 MB in all)
    allocated, written and freed again and again faults its pages in once (the heap settles
    in a few frames), not every time: 6,600 faults in 20 frames without it."""
    if not keep_freed_memory():
        pytest.skip("not glibc")

    def frame() -> None:
        blocks = [torch.ones(512, 1024) for _ in range(6)]  # 6 x 2 MB, written
        del blocks

    for _ in range(10):  # the heap settles
        frame()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(20):
        frame()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 3000 // 10  # one 12 MB frame of fresh pages alone is 3000 faults


def test_keep_freed_memory_applies_on_linux_and_once():
    """glibc's mallopt takes both thresholds on Linux; elsewhere nothing happens."""
    applied = keep_freed_memory()
    assert applied == (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc")
    assert keep_freed_memory() is applied  # once per process
