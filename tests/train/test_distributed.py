"""The process helpers of ``ratrack.train.distributed`` in a single process.

The multi-process behaviour (2 gloo processes against 1) is tested in
``tests/train/test_train_distributed.py``; the CUDA paths in ``tests/train/test_cuda.py``.
"""

from __future__ import annotations

import sys

import pytest
import torch

from ratrack.cli import main
from ratrack.errors import ConfigError, RatrackError
from ratrack.train import distributed


def test_single_process_world_without_torchrun(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert distributed.init_from_env("cpu") is False
    assert (distributed.world(), distributed.rank(), distributed.is_main()) == (1, 0, True)
    assert distributed.shard_rows(5) == slice(0, 5)
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    x = torch.tensor([1.0, 2.0])
    assert distributed.mean_over_processes(x) is x
    assert distributed.any_process(True, torch.device("cpu"))
    assert distributed.from_main({"a": 1}) == {"a": 1}


def test_shards_are_equal_contiguous_and_cover_the_batch(monkeypatch):
    monkeypatch.setattr(distributed, "world", lambda: 4)
    shards = []
    for r in range(4):
        monkeypatch.setattr(distributed, "rank", lambda r=r: r)
        shards.append(distributed.shard_rows(12))
    assert shards == [slice(0, 3), slice(3, 6), slice(6, 9), slice(9, 12)]
    with pytest.raises(RatrackError, match="not divisible by the 4 processes"):
        distributed.shard_rows(10)


def test_init_from_env_needs_torchrun_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(RatrackError, match="torchrun"):
        distributed.init_from_env("cpu")


def test_amp_is_for_cuda_only():
    assert distributed.autocast_dtype(torch.device("cpu"), False) is None
    with pytest.raises(ConfigError, match="amp needs a CUDA device") as info:
        distributed.autocast_dtype(torch.device("cpu"), True)
    assert info.value.field == "amp"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--amp", "--device", "cpu"], "error: --amp needs a CUDA device"),
        (["pretrain", "--device", "gpu"], "error: --device must be one of"),
        (["train", "--lr", "0"], "error: --lr must be a finite number in (0, 1], got 0.0"),
    ],
)
def test_cli_device_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(sys, "argv", ["ratrack", *argv, "--out", str(tmp_path / "run")])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(message) and "\n" not in err
    assert not (tmp_path / "run").exists()
