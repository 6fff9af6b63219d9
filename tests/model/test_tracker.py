import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ratrack.attention.stn import extract_glimpses
from ratrack.boxes import boxes_in_windows, target_windows, window_deltas
from ratrack.model.config import TrackerConfig
from ratrack.model.correlation import (
    box_masks,
    correlation_response,
    response_features,
    template_kernels,
)
from ratrack.model.glimpse import draw_glimpses
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from tracker_helpers import TINY, square_clips


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
    for field in out[:-2]:
        assert field.shape == (3, 4)
    assert out.log_prob.shape == out.score.shape == new.score.shape == (3,)
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


def test_masked_correlation_counts_only_the_masked_cells():
    g = torch.Generator().manual_seed(1)
    maps = torch.rand(2, 3, 12, 12, generator=g)
    full = torch.ones(2, 1, 4, 4)
    torch.testing.assert_close(  # an all-ones mask is no mask
        correlation_response(maps, template_kernels(maps, (4, 4), full), full),
        correlation_response(maps, template_kernels(maps, (4, 4))),
    )
    mask = torch.zeros(2, 1, 4, 4)
    mask[:, :, :, 1:3] = 1  # the middle two columns: a tall box
    kernels = template_kernels(maps, (4, 4), mask)
    assert (kernels * (1 - mask)).abs().max() == 0
    torch.testing.assert_close(kernels.flatten(1).norm(dim=1), torch.ones(2))
    # what lies outside the mask does not change the response
    changed = maps.clone()
    changed[:, :, 4:8, 4] = 5.0
    changed[:, :, 4:8, 7] = -3.0
    centre = correlation_response(changed, kernels, mask)[:, 6, 6]
    torch.testing.assert_close(centre, torch.ones(2))
    moved = torch.roll(maps, shifts=(1, 2), dims=(2, 3))
    assert (correlation_response(moved, kernels, mask).flatten(1).argmax(1) == 7 * 13 + 8).all()


def test_box_masks_cover_the_box_share_of_the_template():
    # a box half as wide as tall, centred, filling the kernel's height (context 2, size 16: k 8)
    rel = torch.tensor([[-0.25, -0.5, 0.25, 0.5], [-0.01, -0.01, 0.01, 0.01]])
    masks = box_masks(rel, 16, 8)
    assert masks.shape == (2, 1, 8, 8)
    assert masks[0, 0].sum(0).tolist() == [0, 0, 8, 8, 8, 8, 0, 0]  # four middle columns
    assert masks[0, 0].sum(1).tolist() == [4] * 8  # every row
    assert masks[1].sum() == 4  # a tiny box still keeps the four central cells


def _textured_frames(shift: tuple[float, float], scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """A random texture patch (box 40, 40, 64, 76) on noise, and the same patch moved by
    ``shift`` and scaled by ``scale`` about its centre: frames ``(2, 3, 128, 128)``, box."""
    g = torch.Generator().manual_seed(3)
    patch = torch.rand(1, 3, 36, 24, generator=g)
    background = 0.5 * torch.rand(3, 128, 128, generator=g)
    box = torch.tensor([40.0, 40.0, 64.0, 76.0])
    frames = background.expand(2, -1, -1, -1).clone()
    frames[0, :, 40:76, 40:64] = patch[0]
    h, w = round(36 * scale), round(24 * scale)
    top, left = round(58 + shift[1] - h / 2), round(52 + shift[0] - w / 2)
    frames[1, :, top : top + h, left : left + w] = F.interpolate(patch, (h, w), mode="bilinear")[0]
    return frames, box


def _matcher(**changes) -> RecurrentTracker:
    """A small untrained matching model (its heads keep the matched box) for textured frames."""
    fields = dict(
        in_channels=3,
        glimpse_size=(16, 16),
        conv_channels=(8,),
        feature_size=16,
        hidden_size=16,
        head_hidden=16,
        match_size=48,
        match_scales=(1 / 1.1, 1.0, 1.1),
        match_penalty=0.99,
        hold_score=-1.0,  # white noise resampled off its pixel grid scores low: never hold
    )
    return RecurrentTracker(config=TrackerConfig(**{**fields, **changes})).eval()


@pytest.mark.parametrize(
    ("shift", "scale"), [((6.0, -4.0), 1.0), ((-3.0, 5.0), 1.1), ((2.0, 2.0), 1 / 1.1)]
)
def test_template_matching_finds_the_moved_and_scaled_target(shift, scale):
    model = _matcher()
    frames, box = _textured_frames(shift, scale)
    state = model.init_state(frames[:1], box[None])
    k = model.config.match_kernel
    assert k == 16 and state.match.shape == (1, 7 * k * k)  # memory, first template, mask
    out, _ = model.step(frames[1:], state)  # an untrained head keeps the matched box
    cx, cy = 52 + shift[0], 58 + shift[1]
    expected = torch.tensor([[cx - 12 * scale, cy - 18 * scale, cx + 12 * scale, cy + 18 * scale]])
    cell = 3 * 36 * scale / 48  # one glimpse pixel of the chosen search window, in frame pixels
    torch.testing.assert_close(out.box, expected, atol=cell, rtol=0)
    assert len(model.read_windows(state).union()) == 4  # the window and three search windows


@pytest.mark.parametrize("one_scale", [False, True])
def test_a_lost_object_is_searched_wide_at_every_scale_or_at_one(one_scale):
    model = _matcher(lost_search=2.0, lost_one_scale=one_scale)
    frames, box = _textured_frames((6.0, -4.0), 1.1)
    lost = model.init_state(frames[:1], box[None])._replace(score=torch.tensor([-0.5]))
    assert model.read_windows(lost).wide.all()
    out, _ = model.step(frames[1:], lost)
    scale = 1.0 if one_scale else 1.1  # one scale: the box keeps its size until found
    size = out.box[0, 2:] - out.box[0, :2]
    torch.testing.assert_close(size, torch.tensor([24.0, 36.0]) * scale)
    centre = (out.box[0, :2] + out.box[0, 2:]) / 2
    torch.testing.assert_close(centre, torch.tensor([58.0, 54.0]), atol=3 * 36 * 1.1 / 48, rtol=0)


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
        {"match_size": 7},
        {"match_size": 4},
        {"match_scales": ()},
        {"match_scales": (0.0, 1.0)},
        {"match_penalty": 0.0},
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


@pytest.mark.parametrize("scores", [(0.9, 0.8), (0.9, 0.1), (0.1, 0.2)])
def test_a_step_reads_nothing_back_from_the_device(scores):
    """Issue #14: with its windows given, a step of the shipped natural model (learned
    matching, template memory, zero padding) never waits on the device for a value. On the
    meta device any such read fails, so the step must run there: objects normal, mixed with
    lost ones, or all lost."""
    model = Tracker.from_pretrained("natural").model
    torch.manual_seed(0)
    frame = torch.rand(1, 3, 120, 160)
    boxes = torch.tensor([[60.0, 40.0, 84.0, 70.0], [0.0, 0.0, 30.0, 24.0]])
    with torch.no_grad():
        state = model.init_state(frame, boxes)._replace(score=torch.tensor(scores))
        reads = model.read_windows(state)
        assert reads.lost == tuple(s < model.config.lost_score for s in scores)
        expected, _ = model.step(frame, state, reads=reads)
        meta = model.to("meta")
        state = type(state)(*(t.to("meta") for t in state))
        reads = reads._replace(glimpse=reads.glimpse.to("meta"), match=reads.match.to("meta"))
        reads = reads._replace(wide=reads.wide.to("meta"))
        out, after = meta.step(frame.to("meta"), state, reads=reads)
    assert out.box.shape == expected.box.shape == (2, 4) and after.score.shape == (2,)
