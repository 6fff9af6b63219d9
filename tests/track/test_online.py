import dataclasses

import numpy as np
import pytest
import torch

from ratrack.boxes import convert_boxes
from ratrack.errors import RatrackError
from ratrack.model.glimpse import Frame
from ratrack.model.tracker import RecurrentTracker
from ratrack.track.online import Tracker
from tracker_helpers import TINY, square_clips

CORRELATING = dataclasses.replace(TINY, correlation_stage=1)
MATCHING = dataclasses.replace(TINY, match_size=16, match_scales=(0.8, 1.0, 1.5), size_rate=0.5)


def _tracker(config=TINY) -> Tracker:
    torch.manual_seed(0)
    return Tracker(model=RecurrentTracker(config=config))


def _uint8(frame: torch.Tensor) -> np.ndarray:
    return (frame[0].clamp(0, 1) * 255).round().byte().numpy()  # (H, W) gray


def test_init_update_ids_and_formats():
    tracker = _tracker()
    clips = square_clips(2, 3)
    xywh = convert_boxes(clips.boxes[:, 0], "xyxy", "xywh").numpy()
    ids = tracker.init(clips.frames[0, 0], xywh)
    assert ids == [0, 1]
    out = tracker.update(clips.frames[0, 1])
    assert out.shape == (2, 4) and out.dtype == np.float32
    assert tracker.windows.shape == (2, 4)
    # the same objects in xyxy come back in xyxy
    other = _tracker()
    other.init(clips.frames[0, 0], clips.boxes[:, 0].numpy(), fmt="xyxy")
    xyxy = other.update(clips.frames[0, 1])
    np.testing.assert_allclose(
        convert_boxes(torch.from_numpy(out), "xywh", "xyxy").numpy(), xyxy, atol=1e-4
    )


@pytest.mark.parametrize("config", [TINY, CORRELATING, MATCHING])
def test_online_matches_model_forward(config):
    tracker = _tracker(config)
    clips = square_clips(1, 4, seed=5)
    tracker.init(clips.frames[0, 0], clips.boxes[:, 0].numpy(), fmt="xyxy")
    online = np.stack([tracker.update(clips.frames[0, t]) for t in range(1, 4)], 1)
    offline = tracker.model(clips.frames, clips.boxes[:, 0]).boxes.detach().numpy()
    np.testing.assert_allclose(online, offline, atol=1e-4)


@pytest.mark.parametrize("config", [TINY, CORRELATING, MATCHING])
def test_add_and_remove_between_frames_keeps_other_tracks(config):
    clips = square_clips(3, 4, seed=6)
    frame = lambda t: clips.frames[0, t]  # noqa: E731  all objects in clip 0's frames
    boxes = clips.boxes[:, 0].numpy()
    full = _tracker(config)
    full.init(frame(0), boxes, fmt="xyxy")
    ref = [full.update(frame(t)) for t in (1, 2, 3)]
    partial = _tracker(config)
    assert partial.init(frame(0), boxes[:2], fmt="xyxy") == [0, 1]
    partial.update(frame(1))
    assert partial.add(frame(1), boxes[2:]) == [2]
    partial.remove([0])
    assert partial.ids == [1, 2]
    out = partial.update(frame(2))
    np.testing.assert_allclose(out[0], ref[1][1], atol=1e-4)  # object 1 unaffected
    partial.remove(np.array([1, 2]))
    assert partial.update(frame(3)).shape == (0, 4)


def test_numpy_rgb_and_gray_frames_agree():
    clips = square_clips(1, 2)
    gray = _uint8(clips.frames[0, 0])
    rgb = np.repeat(gray[..., None], 3, axis=2)
    a, b = _tracker(), _tracker()
    a.init(gray, [[10, 10, 8, 8]])
    b.init(rgb, [[10, 10, 8, 8]])
    np.testing.assert_allclose(a.update(gray), b.update(rgb), atol=1e-3)


def test_bad_inputs_raise():
    tracker = _tracker()
    frame = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError):
        tracker.init(frame, [[1, 1, 5, 5]], fmt="ltwh")
    with pytest.raises(ValueError):
        tracker.init(frame, [[1, 1, -5, 5]])
    with pytest.raises(ValueError):
        tracker.init(np.zeros((20, 20, 3), np.float32), [[1, 1, 5, 5]])
    tracker.init(frame, [[1, 1, 5, 5]])
    with pytest.raises(KeyError):
        tracker.remove([7])
    with pytest.raises(RatrackError):
        Tracker.from_pretrained("imagenet")  # neither a shipped name nor a file


# one search window 1.5 times the box's: the crop must take what it reads beyond the window
WIDE_MATCH = dataclasses.replace(MATCHING, match_scales=(1.5,), match_search=1.0, lost_search=1.0)


@pytest.mark.parametrize("config", [TINY, WIDE_MATCH])
def test_update_reads_only_the_glimpse_region_with_full_frame_results(config):
    from ratrack.track.online import glimpse_region

    torch.manual_seed(0)
    model = RecurrentTracker(config=config)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (120, 200), dtype=np.uint8) for _ in range(4)]
    # one object near the top-left corner (its window leaves the frame), one in the middle
    boxes = np.array([[2.0, 3.0, 14.0, 13.0], [90.0, 50.0, 104.0, 66.0]])
    cropped = Tracker(model=model)
    cropped.init(frames[0], boxes, fmt="xyxy")
    whole = [Frame.whole(cropped.frame_tensor(frame)) for frame in frames]
    state = model.init_state(whole[0], torch.as_tensor(boxes, dtype=torch.float32))
    region = glimpse_region(model.read_windows(cropped._state).union(), 120, 200)
    assert region is not None and region[:2] == (0, 0) and region[2] < 200 and region[3] < 120
    for frame, pixels in zip(frames[1:], whole[1:], strict=True):
        out = cropped.update(frame)
        # the reference steps the model on the whole frame: no crop
        ref, state = model.step(pixels, state)
        np.testing.assert_allclose(out, ref.box.detach().numpy(), atol=1e-3)
        np.testing.assert_allclose(cropped.windows, ref.window.detach().numpy(), atol=1e-3)
        np.testing.assert_allclose(cropped.scores, ref.score.detach().numpy(), atol=1e-4)
    assert glimpse_region(torch.tensor([[-50.0, -50.0, -10.0, -10.0]]), 120, 200) is None
    assert glimpse_region(torch.tensor([[-5.0, -5.0, 300.0, 200.0]]), 120, 200) is None
    nan = float("nan")
    diverged = torch.tensor([[nan, nan, nan, nan], [10.0, 20, 30, 40]])
    assert glimpse_region(diverged, 120, 200) == glimpse_region(diverged[1:], 120, 200)
    assert glimpse_region(diverged[:1], 120, 200) is None
