"""NTM: every addressing stage by hand, read/write by hand, gradcheck, the module's shapes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ratrack.attention.ntm import (
    NTM,
    NTMConfig,
    address,
    circular_shift,
    content_addressing,
    head_params,
    interpolate,
    read_memory,
    sharpen,
    write_memory,
)

D = torch.float64


def t(values) -> torch.Tensor:
    return torch.tensor(values, dtype=D)


# --- content addressing ---


def test_content_addressing_by_hand() -> None:
    memory = t([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])  # 3 slots
    key = t([[2.0, 0.0]])  # cosine ignores the key's length
    scores = [math.exp(2 * c) for c in (1.0, 0.0, 1 / math.sqrt(2))]  # beta = 2
    expected = t([[s / sum(scores) for s in scores]])
    torch.testing.assert_close(content_addressing(memory, key, t([2.0])), expected)


def test_content_addressing_zero_strength_is_uniform() -> None:
    memory = torch.randn(2, 5, 4, dtype=D)
    w = content_addressing(memory, torch.randn(2, 4, dtype=D), t([0.0, 0.0]))
    torch.testing.assert_close(w, torch.full((2, 5), 0.2, dtype=D))


def test_content_addressing_large_strength_picks_the_matching_slot() -> None:
    memory = torch.randn(1, 6, 8, dtype=D)
    key = 3 * memory[:, 4]  # same direction as slot 4
    w = content_addressing(memory, key, t([200.0]))
    assert w.argmax().item() == 4 and w[0, 4] > 0.99


# --- interpolation, shift, sharpening ---


def test_interpolate_by_hand() -> None:
    w = interpolate(t([[1.0, 0.0, 0.0]]), t([[0.0, 0.0, 1.0]]), t([0.25]))
    torch.testing.assert_close(w, t([[0.25, 0.0, 0.75]]))


@pytest.mark.parametrize(
    ("shift", "expected"),
    [
        ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0]),  # +1: the weight moves to the next slot
        ([1.0, 0.0, 0.0], [0.0, 0.0, 1.0]),  # -1: wraps around to the last slot
        ([0.0, 1.0, 0.0], [1.0, 0.0, 0.0]),  # 0: unchanged
    ],
)
def test_circular_shift_one_hot_by_hand(shift, expected) -> None:
    torch.testing.assert_close(circular_shift(t([[1.0, 0.0, 0.0]]), t([shift])), t([expected]))


def test_circular_shift_mixed_by_hand() -> None:
    # s(-1) = 0.2, s(0) = 0.3, s(+1) = 0.5 on w = (0.5, 0.5, 0); w~(i) = sum_d s(d) w(i - d)
    w = circular_shift(t([[0.5, 0.5, 0.0]]), t([[0.2, 0.3, 0.5]]))
    expected = [
        0.3 * 0.5 + 0.5 * 0.0 + 0.2 * 0.5,  # i = 0: w(0), w(-1) = w(2), w(1)
        0.3 * 0.5 + 0.5 * 0.5 + 0.2 * 0.0,  # i = 1
        0.3 * 0.0 + 0.5 * 0.5 + 0.2 * 0.5,  # i = 2
    ]
    torch.testing.assert_close(w, t([expected]))


def test_circular_shift_matches_slow_loop() -> None:
    g = torch.Generator().manual_seed(0)
    B, N, S = 3, 7, 2
    w = torch.rand(B, N, generator=g, dtype=D)
    s = torch.rand(B, 2 * S + 1, generator=g, dtype=D)
    expected = torch.zeros(B, N, dtype=D)
    for b in range(B):
        for i in range(N):
            for j in range(N):
                for k in range(2 * S + 1):  # shift d = k - S contributes where (i - j) = d mod N
                    if (i - j - (k - S)) % N == 0:
                        expected[b, i] += w[b, j] * s[b, k]
    torch.testing.assert_close(circular_shift(w, s), expected)


def test_sharpen_by_hand() -> None:
    # gamma = 2: (0.25, 0.0625, 0.0625) / 0.375
    w = sharpen(t([[0.5, 0.25, 0.25]]), t([2.0]))
    torch.testing.assert_close(w, t([[2 / 3, 1 / 6, 1 / 6]]))
    torch.testing.assert_close(sharpen(t([[0.5, 0.3, 0.2]]), t([1.0])), t([[0.5, 0.3, 0.2]]))


def test_address_weights_are_distributions() -> None:
    g = torch.Generator().manual_seed(1)
    memory = torch.randn(4, 10, 6, generator=g, dtype=D)
    previous = torch.softmax(torch.randn(4, 10, generator=g, dtype=D), dim=1)
    params = head_params(
        torch.randn(4, 6 + 3 + 3, generator=g, dtype=D), memory_width=6, shift_size=3
    )
    w = address(memory, previous, params)
    assert w.shape == (4, 10)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(dim=1), torch.ones(4, dtype=D))


def test_address_chain_by_hand() -> None:
    """Gate 0 ignores content; shift +1 then sharpening with gamma = 2."""
    memory = torch.randn(1, 3, 2, dtype=D)
    previous = t([[0.6, 0.3, 0.1]])
    shift = t([[0.0, 0.0, 1.0]])
    w = address(memory, previous, head_params_from(key=[1.0, 0.0], gate=0.0, shift=shift, gamma=2))
    shifted = [0.1, 0.6, 0.3]
    total = sum(v * v for v in shifted)
    torch.testing.assert_close(w, t([[v * v / total for v in shifted]]))


def head_params_from(*, key, gate, shift, gamma):
    from ratrack.attention.ntm import HeadParams

    return HeadParams(key=t([key]), beta=t([1.0]), gate=t([gate]), shift=shift, gamma=t([gamma]))


def test_head_params_ranges() -> None:
    raw = torch.randn(5, 4 + 3 + 3, dtype=D) * 10
    p = head_params(raw, memory_width=4, shift_size=3)
    assert p.key.shape == (5, 4) and p.beta.shape == p.gate.shape == p.gamma.shape == (5,)
    assert (p.beta >= 0).all() and ((p.gate >= 0) & (p.gate <= 1)).all() and (p.gamma >= 1).all()
    torch.testing.assert_close(p.shift.sum(dim=1), torch.ones(5, dtype=D))


def test_addressing_chain_gradcheck() -> None:
    g = torch.Generator().manual_seed(2)
    memory = torch.randn(2, 5, 3, generator=g, dtype=D, requires_grad=True)
    prev_raw = torch.randn(2, 5, generator=g, dtype=D, requires_grad=True)
    raw = torch.randn(2, 3 + 3 + 3, generator=g, dtype=D, requires_grad=True)

    def chain(memory, prev_raw, raw):
        params = head_params(raw, memory_width=3, shift_size=3)
        return address(memory, torch.softmax(prev_raw, dim=1), params)

    assert torch.autograd.gradcheck(chain, (memory, prev_raw, raw))


def test_read_write_gradcheck() -> None:
    g = torch.Generator().manual_seed(3)
    memory = torch.randn(2, 4, 3, generator=g, dtype=D, requires_grad=True)
    w = torch.rand(2, 4, generator=g, dtype=D, requires_grad=True)
    e = torch.rand(2, 3, generator=g, dtype=D, requires_grad=True)
    a = torch.randn(2, 3, generator=g, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(write_memory, (memory, w, e, a))
    assert torch.autograd.gradcheck(read_memory, (memory, w))


# --- read and write ---


def test_read_by_hand() -> None:
    memory = t([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    torch.testing.assert_close(read_memory(memory, t([[0.5, 0.5, 0.0]])), t([[2.0, 3.0]]))


def test_write_erase_then_add_by_hand() -> None:
    memory = torch.ones(1, 3, 2, dtype=D)
    # erase e = (1, 0): row i's first cell keeps 1 - w(i); then add w(i) * (2, 4)
    new = write_memory(memory, t([[0.5, 0.5, 0.0]]), t([[1.0, 0.0]]), t([[2.0, 4.0]]))
    torch.testing.assert_close(new, t([[[1.5, 3.0], [1.5, 3.0], [1.0, 1.0]]]))
    torch.testing.assert_close(memory, torch.ones(1, 3, 2, dtype=D))  # input untouched


def test_full_erase_then_add_replaces_a_row() -> None:
    memory = torch.randn(1, 4, 3, dtype=D)
    new = write_memory(
        memory, t([[0.0, 1.0, 0.0, 0.0]]), torch.ones(1, 3, dtype=D), t([[7.0, 8.0, 9.0]])
    )
    torch.testing.assert_close(new[0, 1], t([7.0, 8.0, 9.0]))
    torch.testing.assert_close(new[0, [0, 2, 3]], memory[0, [0, 2, 3]])


# --- the module ---


def small_ntm(**overrides) -> NTM:
    cfg = {
        "input_size": 5,
        "output_size": 4,
        "controller_size": 16,
        "memory_slots": 8,
        "memory_width": 6,
        **overrides,
    }
    torch.manual_seed(0)
    return NTM(config=NTMConfig(**cfg))


def test_ntm_state_and_step_shapes() -> None:
    model = small_ntm(read_heads=2, write_heads=1)
    state = model.init_state(3, dtype=D)
    model.double()
    assert state.memory.shape == (3, 8, 6) and state.memory.dtype == D
    assert state.read_weights.shape == (3, 2, 8) and state.write_weights.shape == (3, 1, 8)
    assert state.reads.shape == (3, 2, 6) and state.controller[0].shape == (3, 16)
    y, new = model.step(torch.randn(3, 5, dtype=D), state)
    assert y.shape == (3, 4)
    for weights in (new.read_weights, new.write_weights):
        torch.testing.assert_close(weights.sum(dim=-1), torch.ones(weights.shape[:2], dtype=D))
        assert (weights >= 0).all()
    assert not torch.equal(new.memory, state.memory)  # the write head wrote


def test_ntm_forward_matches_step_loop() -> None:
    model = small_ntm()
    x = torch.randn(2, 7, 5)
    out = model(x)
    assert out.outputs.shape == (2, 7, 4)
    assert out.read_weights.shape == (2, 7, 1, 8) and out.write_weights.shape == (2, 7, 1, 8)
    state = model.init_state(2)
    for step in range(7):
        y, state = model.step(x[:, step], state)
        torch.testing.assert_close(out.outputs[:, step], y)
    torch.testing.assert_close(out.state.memory, state.memory)
    torch.testing.assert_close(model(x).outputs, out.outputs)  # nothing kept between calls


def test_ntm_read_only_memory_is_unchanged() -> None:
    model = small_ntm(write_heads=0)
    out = model(torch.randn(2, 4, 5))
    torch.testing.assert_close(out.state.memory, model.init_state(2).memory)


def test_ntm_gradient_reaches_every_parameter_and_the_first_input() -> None:
    model = small_ntm()
    x = torch.randn(1, 5, 5, requires_grad=True)
    model(x).outputs[0, -1].sum().backward()
    assert x.grad is not None and x.grad[0, 0].abs().sum() > 0
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize(
    "call",
    [
        lambda: content_addressing(torch.zeros(1, 3, 2), torch.zeros(1, 3), torch.ones(1)),
        lambda: content_addressing(torch.zeros(3, 2), torch.zeros(1, 2), torch.ones(1)),
        lambda: content_addressing(torch.zeros(1, 3, 2), torch.zeros(1, 2), torch.ones(1, 1)),
        lambda: interpolate(torch.ones(1, 3), torch.ones(1, 4), torch.ones(1)),
        lambda: interpolate(torch.ones(2, 3), torch.ones(2, 3), torch.ones(1)),
        lambda: circular_shift(torch.ones(1, 3), torch.ones(1, 2)),  # even number of shifts
        lambda: circular_shift(torch.ones(1, 3), torch.ones(1, 5)),  # more shifts than slots
        lambda: circular_shift(torch.ones(1, 3), torch.ones(2, 3)),
        lambda: sharpen(torch.ones(3), torch.ones(1)),
        lambda: read_memory(torch.zeros(1, 3, 2), torch.zeros(1, 4)),
        lambda: write_memory(
            torch.zeros(1, 3, 2), torch.zeros(1, 3), torch.zeros(1, 3), torch.zeros(1, 2)
        ),
        lambda: head_params(torch.zeros(1, 9), memory_width=4, shift_size=3),
        lambda: NTMConfig(input_size=0, output_size=1),
        lambda: NTMConfig(input_size=1, output_size=1, memory_slots=2, shift_range=1),
        lambda: NTMConfig(input_size=1, output_size=1, read_heads=0),
        lambda: small_ntm().step(torch.zeros(2, 4), small_ntm().init_state(2)),
        lambda: small_ntm()(torch.zeros(2, 0, 5)),
        lambda: small_ntm()(torch.zeros(2, 3, 4)),
        lambda: small_ntm().init_state(0),
    ],
)
def test_bad_arguments_raise(call) -> None:
    with pytest.raises(ValueError):
        call()


def test_sharpen_gradient_finite_at_zero_weight() -> None:
    w = t([[1.0, 0.0, 0.0]]).requires_grad_()
    gamma = t([2.0]).requires_grad_()
    sharpen(w, gamma)[0, 0].backward()
    assert torch.isfinite(gamma.grad).all() and torch.isfinite(w.grad).all()


def test_content_addressing_matches_torch_cosine() -> None:
    memory = torch.randn(3, 6, 4, dtype=D)
    key = torch.randn(3, 4, dtype=D)
    beta = t([0.5, 1.0, 3.0])
    cosine = F.cosine_similarity(memory, key[:, None, :], dim=2)  # (B, N)
    expected = torch.softmax(beta[:, None] * cosine, dim=1)
    torch.testing.assert_close(content_addressing(memory, key, beta), expected)
