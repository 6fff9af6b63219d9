"""Neural Turing Machine (Graves, Wayne and Danihelka, 2014): memory, addressing, heads, controller.

Notation (paper Sec. 3; lecture 9.4 slides 5-9), mapped to names used in code:

* ``M_t`` memory ``(B, N, M)``: ``N`` slots (``memory_slots``) of width ``M`` (``memory_width``).
* ``w_t`` a head's weighting over the slots ``(B, N)``, with ``0 <= w_t(i) <= 1`` and
  ``sum_i w_t(i) = 1``.
* **Read** (:func:`read_memory`): ``r_t = sum_i w_t(i) M_t(i)``.
* **Write** (:func:`write_memory`), erase then add, with erase ``e_t`` in ``[0, 1]^M`` and add
  ``a_t``: ``M'_t(i) = M_{t-1}(i) * (1 - w_t(i) e_t)``, ``M_t(i) = M'_t(i) + w_t(i) a_t``.

Addressing (:func:`address`), from the head's parameters ``k_t, beta_t, g_t, s_t, gamma_t``
emitted by the controller:

1. **Content** (:func:`content_addressing`), key ``k_t`` and key strength ``beta_t >= 0``:
   ``w^c_t(i) = exp(beta_t K(k_t, M_t(i))) / sum_j exp(beta_t K(k_t, M_t(j)))`` with the cosine
   similarity ``K(u, v) = u.v / (|u| |v|)``.
2. **Interpolation** (:func:`interpolate`), gate ``g_t`` in ``[0, 1]``:
   ``w^g_t = g_t w^c_t + (1 - g_t) w_{t-1}``.
3. **Convolutional shift** (:func:`circular_shift`), a distribution ``s_t`` over the integer
   shifts ``-S..S``: ``w~_t(i) = sum_j w^g_t(j) s_t(i - j)`` with indices modulo ``N``.
4. **Sharpening** (:func:`sharpen`), ``gamma_t >= 1``:
   ``w_t(i) = w~_t(i)^gamma_t / sum_j w~_t(j)^gamma_t``.

:class:`NTM` wires an LSTM controller to ``write_heads`` write heads and ``read_heads`` read heads.
Per step ``t`` with input ``x_t``: the controller reads ``[x_t, r_{t-1}]``; each write head
addresses ``M_{t-1}`` and writes (giving ``M_t``); each read head then addresses ``M_t`` and reads
``r_t``; the output is ``y_t = W_y [h_t, r_t] + b_y`` (raw, e.g. logits for bits).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SHARPEN_EPS = 1e-12  # floor on w~ before ``** gamma``: keeps d/dgamma (w log w) finite at w = 0
COSINE_EPS = 1e-8  # floor on |u| |v| in the cosine similarity (an all-zero row reads as 0)


def _check_weights(weights: Tensor, name: str = "weights") -> None:
    if weights.dim() != 2:
        raise ValueError(f"{name} must be (B, N), got {tuple(weights.shape)}")


def _check_scalar(value: Tensor, batch: int, name: str) -> None:
    if value.shape != (batch,):
        raise ValueError(f"{name} must be ({batch},), got {tuple(value.shape)}")


def content_addressing(memory: Tensor, key: Tensor, beta: Tensor) -> Tensor:
    """``w^c(i) = softmax_i(beta * cos(key, memory[i]))``.

    ``memory`` ``(B, N, M)``, ``key`` ``(B, M)``, ``beta`` ``(B,)`` (key strength, ``>= 0``).
    Returns ``(B, N)``; each row sums to 1.
    """
    if memory.dim() != 3:
        raise ValueError(f"memory must be (B, N, M), got {tuple(memory.shape)}")
    B, _, M = memory.shape
    if key.shape != (B, M):
        raise ValueError(f"key must be ({B}, {M}), got {tuple(key.shape)}")
    _check_scalar(beta, B, "beta")
    dot = (memory @ key[:, :, None]).squeeze(2)  # (B, N)
    norms = memory.norm(dim=2) * key.norm(dim=1, keepdim=True)  # (B, N)
    cosine = dot / norms.clamp_min(COSINE_EPS)  # (B, N)
    return torch.softmax(beta[:, None] * cosine, dim=1)


def interpolate(content_weights: Tensor, previous_weights: Tensor, gate: Tensor) -> Tensor:
    """``w^g = g * w^c + (1 - g) * w_{t-1}``: weights ``(B, N)``, ``gate`` ``(B,)`` in [0, 1]."""
    _check_weights(content_weights, "content_weights")
    if previous_weights.shape != content_weights.shape:
        raise ValueError(
            f"previous_weights must be {tuple(content_weights.shape)}, "
            f"got {tuple(previous_weights.shape)}"
        )
    _check_scalar(gate, content_weights.shape[0], "gate")
    g = gate[:, None]  # (B, 1)
    return g * content_weights + (1 - g) * previous_weights


def circular_shift(weights: Tensor, shift: Tensor) -> Tensor:
    """``w~(i) = sum_j w(j) s(i - j)``, indices modulo ``N``.

    ``weights`` ``(B, N)``; ``shift`` ``(B, 2S + 1)`` is a distribution over the shifts
    ``-S, ..., 0, ..., +S`` (column ``k`` is shift ``k - S``), with ``2S + 1 <= N``. A shift of
    ``+1`` moves the weighting one slot towards higher indices (``w~(i) = w(i - 1)``).
    """
    _check_weights(weights)
    B, N = weights.shape
    if shift.dim() != 2 or shift.shape[0] != B or shift.shape[1] % 2 != 1:
        raise ValueError(f"shift must be ({B}, 2S + 1), got {tuple(shift.shape)}")
    if shift.shape[1] > N:
        raise ValueError(f"shift has {shift.shape[1]} offsets, more than the {N} memory slots")
    S = shift.shape[1] // 2
    padded = torch.cat((weights[:, N - S :], weights, weights[:, :S]), dim=1)  # (B, N + 2S)
    windows = padded.unfold(1, 2 * S + 1, 1)  # (B, N, 2S + 1): windows[b, i, k] = w(i + k - S)
    # w(i + k - S) = w(i - d) for shift d = S - k, i.e. shift column 2S - k: flip the shifts.
    return (windows @ shift.flip(1)[:, :, None]).squeeze(2)  # (B, N)


def sharpen(weights: Tensor, gamma: Tensor) -> Tensor:
    """``w(i) = w~(i)^gamma / sum_j w~(j)^gamma``: ``weights`` ``(B, N)``, ``gamma`` ``(B,)``.

    ``gamma >= 1`` sharpens; ``w~`` is floored at ``SHARPEN_EPS`` so that the gradient with
    respect to ``gamma`` (``w~^gamma log w~``) stays finite where ``w~ = 0``.
    """
    _check_weights(weights)
    _check_scalar(gamma, weights.shape[0], "gamma")
    powered = weights.clamp_min(SHARPEN_EPS) ** gamma[:, None]  # (B, N)
    return powered / powered.sum(dim=1, keepdim=True)


class HeadParams(NamedTuple):
    """One head's addressing parameters for one step (already squashed to their ranges)."""

    key: Tensor  # (B, M) k_t
    beta: Tensor  # (B,) key strength, >= 0
    gate: Tensor  # (B,) interpolation gate g_t in [0, 1]
    shift: Tensor  # (B, 2S + 1) shift distribution s_t
    gamma: Tensor  # (B,) sharpening exponent, >= 1


def head_params(raw: Tensor, *, memory_width: int, shift_size: int) -> HeadParams:
    """Split a controller projection ``(B, M + 2S + 4)`` into :class:`HeadParams`.

    Order ``[key (M), beta, gate, shift (2S + 1), gamma]``; ``beta = softplus``, ``gate =
    sigmoid``, ``shift = softmax``, ``gamma = 1 + softplus`` (the paper states the ranges, not the
    squashing functions).
    """
    width = memory_width + shift_size + 3
    if raw.dim() != 2 or raw.shape[1] != width:
        raise ValueError(f"raw head parameters must be (B, {width}), got {tuple(raw.shape)}")
    key, beta, gate, shift, gamma = raw.split((memory_width, 1, 1, shift_size, 1), dim=1)
    return HeadParams(
        key=key,
        beta=F.softplus(beta.squeeze(1)),
        gate=torch.sigmoid(gate.squeeze(1)),
        shift=torch.softmax(shift, dim=1),
        gamma=1 + F.softplus(gamma.squeeze(1)),
    )


def address(memory: Tensor, previous_weights: Tensor, params: HeadParams) -> Tensor:
    """The full addressing chain: content -> interpolation -> shift -> sharpening.

    ``memory`` ``(B, N, M)``, ``previous_weights`` ``(B, N)`` (``w_{t-1}``); returns ``w_t``
    ``(B, N)``.
    """
    content = content_addressing(memory, params.key, params.beta)
    gated = interpolate(content, previous_weights, params.gate)
    shifted = circular_shift(gated, params.shift)
    return sharpen(shifted, params.gamma)


def read_memory(memory: Tensor, weights: Tensor) -> Tensor:
    """``r = sum_i w(i) M(i)``: ``memory`` ``(B, N, M)``, ``weights`` ``(B, N)`` -> ``(B, M)``."""
    if memory.dim() != 3 or weights.shape != memory.shape[:2]:
        raise ValueError(
            f"need memory (B, N, M) and weights (B, N), got {tuple(memory.shape)} and "
            f"{tuple(weights.shape)}"
        )
    return (weights[:, None, :] @ memory).squeeze(1)  # (B, M)


def write_memory(memory: Tensor, weights: Tensor, erase: Tensor, add: Tensor) -> Tensor:
    """Erase then add: ``M(i) <- M(i) * (1 - w(i) e) + w(i) a``.

    ``memory`` ``(B, N, M)``, ``weights`` ``(B, N)``, ``erase`` ``(B, M)`` in [0, 1], ``add``
    ``(B, M)``. Returns the new memory (the input is not modified).
    """
    if memory.dim() != 3 or weights.shape != memory.shape[:2]:
        raise ValueError(
            f"need memory (B, N, M) and weights (B, N), got {tuple(memory.shape)} and "
            f"{tuple(weights.shape)}"
        )
    B, _, M = memory.shape
    if erase.shape != (B, M) or add.shape != (B, M):
        raise ValueError(
            f"erase and add must be ({B}, {M}), got {tuple(erase.shape)} and {tuple(add.shape)}"
        )
    w = weights[:, :, None]  # (B, N, 1)
    return memory * (1 - w * erase[:, None, :]) + w * add[:, None, :]


@dataclass(frozen=True)
class NTMConfig:
    """Hyperparameters of :class:`NTM` (defaults: the paper's copy-task model, Table 2)."""

    input_size: int  # width of x_t
    output_size: int  # width of y_t
    controller_size: int = 100  # LSTM units (paper: 100)
    memory_slots: int = 128  # N (paper: 128)
    memory_width: int = 20  # M (paper: 20)
    read_heads: int = 1  # paper: 1
    write_heads: int = 1  # paper: 1
    shift_range: int = 1  # S: allowed shifts -S..S (paper: -1, 0, +1)
    memory_init: float = 1e-6  # every cell of M_0 (equal rows: content addressing starts uniform)

    def __post_init__(self) -> None:
        sizes = (self.input_size, self.output_size, self.controller_size, self.memory_slots)
        if min(sizes) <= 0 or self.memory_width <= 0:
            raise ValueError(f"NTMConfig sizes must be positive, got {self}")
        if self.read_heads <= 0 or self.write_heads < 0:
            raise ValueError(
                f"need read_heads >= 1 and write_heads >= 0, got {self.read_heads}, "
                f"{self.write_heads}"
            )
        if self.shift_range < 0 or 2 * self.shift_range + 1 > self.memory_slots:
            raise ValueError(
                f"shift_range must be in [0, (memory_slots - 1) / 2], got {self.shift_range}"
            )


class NTMState(NamedTuple):
    """The NTM's complete recurrent state between steps."""

    memory: Tensor  # (B, N, M) M_t
    read_weights: Tensor  # (B, R, N) w_t of each read head
    write_weights: Tensor  # (B, W, N) w_t of each write head
    reads: Tensor  # (B, R, M) r_t, fed to the controller at the next step
    controller: tuple[Tensor, Tensor]  # LSTM (h, c), each (B, controller_size)


class NTMOutput(NamedTuple):
    """A whole sequence: outputs and where every head looked."""

    outputs: Tensor  # (B, T, output_size)
    read_weights: Tensor  # (B, T, R, N)
    write_weights: Tensor  # (B, T, W, N)
    state: NTMState  # the state after the last step


class NTM(nn.Module):
    """LSTM controller + ``N x M`` memory + read and write heads (see the module docstring).

    The recurrence is explicit: :meth:`init_state` and :meth:`step`; nothing is kept on the module
    between calls. Initial state: memory filled with ``memory_init``, every head's weighting on
    slot 0 (a one-hot start lets location addressing walk from there), zero read vectors and
    zero LSTM state.
    """

    def __init__(self, *, config: NTMConfig) -> None:
        super().__init__()
        self.config = c = config
        self.shift_size = 2 * c.shift_range + 1
        self.address_size = c.memory_width + self.shift_size + 3  # per head, see head_params
        self.controller = nn.LSTMCell(
            c.input_size + c.read_heads * c.memory_width, c.controller_size
        )
        # One projection for all heads: write heads get [address, erase (M), add (M)].
        head_size = c.read_heads * self.address_size + c.write_heads * (
            self.address_size + 2 * c.memory_width
        )
        self.heads = nn.Linear(c.controller_size, head_size)
        self.output = nn.Linear(c.controller_size + c.read_heads * c.memory_width, c.output_size)

    def init_state(
        self, batch: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> NTMState:
        """The start state for ``batch`` sequences (see the class docstring)."""
        if batch <= 0:
            raise ValueError(f"batch must be positive, got {batch}")
        c = self.config
        start = torch.zeros(c.memory_slots, device=device, dtype=dtype)
        start[0] = 1
        zeros = torch.zeros(batch, c.controller_size, device=device, dtype=dtype)
        memory_shape = (batch, c.memory_slots, c.memory_width)
        return NTMState(
            memory=torch.full(memory_shape, c.memory_init, device=device, dtype=dtype),
            read_weights=start.expand(batch, c.read_heads, c.memory_slots),
            write_weights=start.expand(batch, c.write_heads, c.memory_slots),
            reads=torch.zeros(batch, c.read_heads, c.memory_width, device=device, dtype=dtype),
            controller=(zeros, zeros),
        )

    def step(self, x: Tensor, state: NTMState) -> tuple[Tensor, NTMState]:
        """One step: ``x`` ``(B, input_size)`` -> ``(y (B, output_size), new state)``."""
        c = self.config
        B = state.memory.shape[0]
        if x.shape != (B, c.input_size):
            raise ValueError(f"x must be ({B}, {c.input_size}), got {tuple(x.shape)}")
        h, cell = self.controller(torch.cat((x, state.reads.flatten(1)), dim=1), state.controller)
        raw = self.heads(h)  # (B, head_size)
        write_raw, read_raw = raw.split(
            (
                c.write_heads * (self.address_size + 2 * c.memory_width),
                c.read_heads * self.address_size,
            ),
            dim=1,
        )
        memory = state.memory
        write_weights = []
        for k, chunk in enumerate(write_raw.chunk(c.write_heads, dim=1) if c.write_heads else ()):
            addressing, erase, add = chunk.split(
                (self.address_size, c.memory_width, c.memory_width), dim=1
            )
            params = head_params(
                addressing, memory_width=c.memory_width, shift_size=self.shift_size
            )
            w = address(memory, state.write_weights[:, k], params)  # (B, N)
            memory = write_memory(memory, w, torch.sigmoid(erase), torch.tanh(add))
            write_weights.append(w)
        read_weights, reads = [], []
        for k, chunk in enumerate(read_raw.chunk(c.read_heads, dim=1)):
            params = head_params(chunk, memory_width=c.memory_width, shift_size=self.shift_size)
            w = address(memory, state.read_weights[:, k], params)  # (B, N)
            read_weights.append(w)
            reads.append(read_memory(memory, w))
        reads_t = torch.stack(reads, dim=1)  # (B, R, M)
        y = self.output(torch.cat((h, reads_t.flatten(1)), dim=1))  # (B, output_size)
        new_write = torch.stack(write_weights, dim=1) if write_weights else state.write_weights
        return y, NTMState(
            memory=memory,
            read_weights=torch.stack(read_weights, dim=1),  # (B, R, N)
            write_weights=new_write,  # (B, W, N)
            reads=reads_t,
            controller=(h, cell),
        )

    def forward(self, inputs: Tensor, state: NTMState | None = None) -> NTMOutput:
        """Run over ``inputs`` ``(B, T, input_size)`` from ``state`` (default: a fresh one)."""
        if inputs.dim() != 3 or inputs.shape[1] == 0 or inputs.shape[2] != self.config.input_size:
            raise ValueError(
                f"inputs must be (B, T > 0, {self.config.input_size}), got {tuple(inputs.shape)}"
            )
        if state is None:
            state = self.init_state(inputs.shape[0], device=inputs.device, dtype=inputs.dtype)
        outputs, reads, writes = [], [], []
        for t in range(inputs.shape[1]):
            y, state = self.step(inputs[:, t], state)
            outputs.append(y)
            reads.append(state.read_weights)
            writes.append(state.write_weights)
        return NTMOutput(
            outputs=torch.stack(outputs, dim=1),  # (B, T, output_size)
            read_weights=torch.stack(reads, dim=1),  # (B, T, R, N)
            write_weights=torch.stack(writes, dim=1),  # (B, T, W, N)
            state=state,
        )
