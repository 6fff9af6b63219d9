import math

import pytest
import torch
from torch import nn
from tracker_helpers import TINY, square_clips

from ratrack.attention.stn import extract_glimpses
from ratrack.boxes import boxes_in_windows, window_deltas
from ratrack.tracker.model import (
    RecurrentTracker,
    TrackerConfig,
    correlation_response,
    draw_glimpses,
    response_features,
    target_windows,
    template_kernels,
)


def _model(**changes) -> RecurrentTracker:
    torch.manual_seed(0)
    fields = {**TINY.__dict__, **changes}
    return RecurrentTracker(config=TrackerConfig(**fields))


@pytest.mark.parametrize("grid", ["stn", "draw"])
@pytest.mark.parametrize("rnn", ["gru", "lstm"])
def test_shapes_of_init_step_and_forward(grid, rnn):
    model = _model(grid_generator=grid, rnn_type=rnn)
    clips = square_clips(3, 5)
    state = model.init_state(clips.frames[:, 0], clips.boxes[:, 0])
    assert state.hidden.shape == (3, 32) and state.window.shape == (3, 4)
    assert state.cell.shape == (3, 32 if rnn == "lstm" else 0)
    assert state.template.shape == (3, 32)
    out, new = model.step(clips.frames[:, 1], state)
    for field in out[:-1]:
        assert field.shape == (3, 4)
    assert out.log_prob.shape == (3,)
    assert torch.equal(out.window, state.window)
    assert torch.equal(new.window, out.next_window)
    clip = model(clips.frames, clips.boxes[:, 0])
    assert clip.boxes.shape == clip.next_windows.shape == (3, 4, 4)
    assert clip.grid_inputs == ()


def test_one_frame_is_shared_by_all_objects():
    model = _model()
    clips = square_clips(1, 2)
    boxes = torch.tensor([[5.0, 5, 15, 15], [20, 20, 30, 34]])
    shared = model.init_state(clips.frames[0, 0], boxes)  # (C, H, W) frame
    copied = model.init_state(clips.frames[0, 0].expand(2, -1, -1, -1), boxes)
    for a, b in zip(shared, copied, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("stage", [1, 2])
def test_correlation_state_and_shapes(stage):
    model = _model(correlation_stage=stage)
    c = model.config
    clips = square_clips(3, 5)
    state = model.init_state(clips.frames[:, 0], clips.boxes[:, 0])
    kh, kw = c.correlation_kernel
    assert state.kernel.shape == (3, c.conv_channels[stage - 1] * kh * kw)
    (h, w), (kh, kw) = c.correlation_map, c.correlation_kernel
    assert (h - kh) % 2 == 0 and (w - kw) % 2 == 0  # the template patch sits at the centre
    out, new = model.step(clips.frames[:, 1], state)
    assert out.box.shape == (3, 4)
    assert torch.equal(new.kernel, state.kernel)
    assert model(clips.frames, clips.boxes[:, 0]).boxes.shape == (3, 4, 4)
    assert _model().init_state(clips.frames[:, 0], clips.boxes[:, 0]).kernel.shape == (3, 0)


def test_correlation_peaks_where_the_template_moved():
    g = torch.Generator().manual_seed(0)
    maps = torch.rand(2, 8, 10, 10, generator=g)
    kernels = template_kernels(maps, (4, 4))
    response = correlation_response(maps, kernels)  # (2, 11, 11): the unmoved map
    assert response.shape == (2, 11, 11)
    torch.testing.assert_close(response[:, 5, 5], torch.ones(2))  # normalized: exactly 1
    assert (response.flatten(1).argmax(1) == 5 * 11 + 5).all()
    assert response.abs().max() <= 1 + 1e-5
    moved = torch.roll(maps, shifts=(2, -1), dims=(2, 3))  # 2 cells down, 1 left
    peak = correlation_response(moved, kernels).flatten(1).argmax(1)
    assert (peak == 7 * 11 + 4).all()
    features = response_features(correlation_response(moved, kernels), sharpness=200.0)
    assert features.shape == (2, 121 + 3)
    # soft-argmax displacement in window sides: (-1, +2) cells of 10
    torch.testing.assert_close(
        features[:, -3:-1], torch.tensor([[-0.1, 0.2]] * 2), atol=1e-3, rtol=0
    )


def test_batched_step_equals_objects_one_at_a_time():
    model = _model(rnn_type="lstm", correlation_stage=1)
    clips = square_clips(3, 4, seed=1)
    batched = model(clips.frames, clips.boxes[:, 0]).boxes
    single = torch.cat(
        [model(clips.frames[i : i + 1], clips.boxes[i : i + 1, 0]).boxes for i in range(3)]
    )
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-4)


class _Constant(nn.Module):
    def __init__(self, value: torch.Tensor) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.value.expand(x.shape[0], -1)


def test_perfect_heads_at_the_true_window_reproduce_box_and_next_window():
    model = _model()
    clips = square_clips(1, 3, seed=2)
    state = model.init_state(clips.frames[:, 0], clips.boxes[:, 0])
    true_window = target_windows(clips.boxes[:, 1], model.config.context)
    state = state._replace(window=true_window)
    rel = boxes_in_windows(clips.boxes[:, 1], true_window)  # (1, 4)
    model.track_head = _Constant(torch.atanh(rel))
    deltas = window_deltas(true_window, target_windows(clips.boxes[:, 2], model.config.context))
    model.loc_head = _Constant(deltas)
    out, new = model.step(clips.frames[:, 1], state)
    torch.testing.assert_close(out.box, clips.boxes[:, 1], rtol=0, atol=1e-4)
    torch.testing.assert_close(
        new.window, target_windows(clips.boxes[:, 2], 2.0), rtol=0, atol=1e-4
    )


def test_untrained_tracker_keeps_its_window_and_guesses_the_centred_box():
    model = _model()
    boxes = torch.tensor([[10.0, 10, 20, 20]])
    frame = torch.rand(1, 1, 40, 40)
    state = model.init_state(frame, boxes)
    torch.testing.assert_close(state.window, torch.tensor([[5.0, 5, 25, 25]]))
    out, new = model.step(frame, state)
    torch.testing.assert_close(new.window, state.window, rtol=0, atol=0.05)
    torch.testing.assert_close(out.box, boxes, rtol=0, atol=0.2)


def test_size_rate_moves_the_box_size_part_way_and_keeps_its_centre():
    frame = torch.rand(1, 1, 40, 40)
    boxes = torch.tensor([[10.0, 10, 20, 20]])
    free, damped = _model(), _model(size_rate=0.25)
    out_free, _ = free.step(frame, free.init_state(frame, boxes)._replace(box=boxes * 0.5))
    out, new = damped.step(frame, damped.init_state(frame, boxes)._replace(box=boxes * 0.5))
    # the undamped box has sides ~10 (the centred guess); the previous box had sides 5
    w_free = out_free.box[0, 2] - out_free.box[0, 0]
    torch.testing.assert_close(out.box[0, 2] - out.box[0, 0], 5 * (w_free / 5) ** 0.25)
    torch.testing.assert_close(
        out.box[:, :2] + out.box[:, 2:], out_free.box[:, :2] + out_free.box[:, 2:]
    )
    assert torch.equal(new.box, out.box)
    torch.testing.assert_close(boxes_in_windows(out.box, out.window), out.box_in_window)


def test_target_windows_are_square_around_the_box():
    w = target_windows(torch.tensor([[10.0, 0, 14, 10]]), 3.0)
    torch.testing.assert_close(w, torch.tensor([[-3.0, -10, 27, 20]]))


def test_draw_glimpse_matches_bilinear_glimpse_on_a_smooth_image():
    ys, xs = torch.meshgrid(torch.arange(64.0) + 0.5, torch.arange(80.0) + 0.5, indexing="ij")
    image = (torch.sin(xs / 9) + torch.cos(ys / 7))[None, None]  # (1, 1, 64, 80)
    windows = torch.tensor([[20.0, 10, 52, 42]])
    a = draw_glimpses(image, windows, (16, 16))
    b = extract_glimpses(image, windows, (16, 16))
    assert (a - b).abs().max() < 0.05


def test_draw_glimpse_gradcheck_float64():
    image = torch.rand(1, 1, 12, 14, dtype=torch.float64, requires_grad=True)
    windows = torch.tensor([[2.0, 3, 10, 9]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda i, w: draw_glimpses(i, w, (4, 5)), (image, windows))


def test_probe_grid_exposes_window_gradients():
    model = _model()
    clips = square_clips(2, 4)
    out = model(clips.frames, clips.boxes[:, 0], probe_grid=True)
    out.boxes.sum().backward()
    assert len(out.grid_inputs) == 3
    assert all(w.grad is not None and math.isfinite(float(w.grad.norm())) for w in out.grid_inputs)


@pytest.mark.parametrize(
    "changes",
    [
        {"grid_generator": "bilinear"},
        {"rnn_type": "rnn"},
        {"context": 1.0},
        {"glimpse_size": (4, 4)},
        {"conv_channels": ()},
        {"correlation_stage": 4},
        {"correlation_stage": -1},
        {"size_rate": 0.0},
        {"size_rate": 1.5},
    ],
)
def test_bad_config_raises(changes):
    with pytest.raises(ValueError):
        TrackerConfig(**changes)


def test_bad_inputs_raise():
    model = _model()
    with pytest.raises(ValueError):
        model.init_state(torch.rand(1, 3, 20, 20), torch.tensor([[1.0, 1, 5, 5]]))  # channels
    with pytest.raises(ValueError):
        model.init_state(torch.rand(1, 1, 20, 20), torch.tensor([[5.0, 1, 1, 5]]))  # x1 > x2
    with pytest.raises(ValueError):
        model(torch.rand(1, 1, 1, 20, 20), torch.tensor([[1.0, 1, 5, 5]]))  # T = 1


def test_gaussian_location_policy_explores_only_in_training():
    from dataclasses import replace

    from tracker_helpers import TINY, square_clips

    clips = square_clips(4, 5)
    torch.manual_seed(0)
    explorer = RecurrentTracker(config=replace(TINY, location_std=0.1))
    plain = RecurrentTracker(config=TINY)
    plain.load_state_dict(explorer.state_dict())
    explorer.eval(), plain.eval()
    a = explorer(clips.frames, clips.boxes[:, 0])
    b = plain(clips.frames, clips.boxes[:, 0])
    assert torch.equal(a.boxes, b.boxes) and (a.log_probs == 0).all()  # the mean at evaluation
    explorer.train()
    c = explorer(clips.frames, clips.boxes[:, 0])
    assert c.log_probs.shape == (4, 4) and (c.log_probs != 0).all()
    # frame 1 is seen through the initial window; later windows are the policy's draws
    assert torch.equal(c.windows[:, 0], b.windows[:, 0])
    assert not torch.allclose(c.windows[:, 1:], c.next_windows[:, :-1])
    c.log_probs.sum().backward()
    assert explorer.loc_head[-1].weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in explorer.track_head.parameters())
