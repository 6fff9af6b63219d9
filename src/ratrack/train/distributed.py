"""Data-parallel processes: the torchrun environment, the process group, shards (the device
setting: :mod:`ratrack.devices`).

ratrack trains data-parallel with PyTorch's own machinery. ``torchrun`` starts one process per
device and sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`init_from_env` joins the process group (NCCL on CUDA, gloo on the CPU), and the training
loops wrap their model in :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`wrap`)
whenever a group is initialized. Without torchrun the world is one process and every helper here
is a no-op.

Batch convention: a step's *global* batch (``batch_size`` samples, a pure function of the step)
is cut into ``world`` equal contiguous shards, and process ``rank`` trains on rows
``[rank * B / world, (rank + 1) * B / world)`` (:func:`shard_rows`). DDP averages gradients over
the processes and every training loss is a mean over its batch, so with equal shards a step's
gradient is the gradient of the whole global batch: a run on N processes follows the 1-process
run with the same ``batch_size`` and learning rate (up to float rounding), and a checkpoint
resumes under any world size that divides ``batch_size``.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ratrack.devices import launched_world
from ratrack.errors import ConfigError, RatrackError

log = logging.getLogger(__name__)


def init_from_env(device: str | torch.device) -> bool:
    """Join the process group torchrun describes; returns whether this process is in one.

    Backend NCCL for a CUDA ``device`` (which becomes the current CUDA device), gloo otherwise.
    Does nothing (returns False) without torchrun's ``WORLD_SIZE > 1``, and nothing new if a
    group is already initialized.
    """
    if dist.is_initialized():
        return True
    if launched_world() <= 1:
        return False
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise RatrackError(f"WORLD_SIZE is set but {name} is not: start ratrack with torchrun")
    device = torch.device(device)
    backend = "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
        backend = "nccl"
    dist.init_process_group(backend, init_method="env://")
    log.info("process %d of %d on %s (%s)", rank(), world(), device, backend)
    return True


def cleanup() -> None:
    """Leave the process group (if any)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def world() -> int:
    """Processes in the group (1 outside one)."""
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    """This process's rank (0 outside a group)."""
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Whether this process writes checkpoints and logs (rank 0)."""
    return rank() == 0


def shard_rows(batch_size: int) -> slice:
    """This process's rows of a global batch of ``batch_size`` (see the module docstring)."""
    n = world()
    if batch_size % n:
        raise RatrackError(
            f"the global batch size {batch_size} is not divisible by the {n} processes"
        )
    per = batch_size // n
    return slice(rank() * per, (rank() + 1) * per)


def wrap(model: nn.Module, device: torch.device, *, find_unused: bool = False) -> nn.Module:
    """``model`` in DistributedDataParallel inside a process group, else ``model`` itself."""
    if world() == 1:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(
        model, device_ids=device_ids, find_unused_parameters=find_unused
    )


def mean_over_processes(values: Tensor) -> Tensor:
    """The mean of ``values`` over the processes (``values`` itself in one process)."""
    if world() == 1:
        return values
    values = values.detach().clone()
    dist.all_reduce(values)
    return values / world()


def sum_over_processes(values: Tensor) -> Tensor:
    """The sum of ``values`` over the processes (``values`` itself in one process)."""
    if world() == 1:
        return values
    values = values.detach().clone()
    dist.all_reduce(values)
    return values


def any_process(flag: bool | Tensor, device: torch.device) -> bool:
    """Whether ``flag`` holds on any process (so that all processes take the same branch)."""
    if world() == 1:
        return bool(flag)
    value = torch.as_tensor(flag, dtype=torch.float32, device=device).reshape(1)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def from_main(obj: Any) -> Any:
    """Rank 0's ``obj`` on every process (picklable objects; tensors come back on the CPU)."""
    if world() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if world() > 1:
        dist.barrier()


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """The mixed-precision dtype for ``amp`` on ``device``: None without ``amp``.

    bfloat16 where the GPU supports it (no loss scaling needed), else float16 (the training loops
    then add a :class:`torch.amp.GradScaler`). Mixed precision is for CUDA only.
    """
    if not amp:
        return None
    if device.type != "cuda":
        raise ConfigError("amp", f"needs a CUDA device, got {device} (turn it off on the CPU)")
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
