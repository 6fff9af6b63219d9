"""Self-supervised motion on real stills."""

from __future__ import annotations

import numpy as np
import pytest

from ratrack.data.motion import (
    MotionConfig,
    MotionOnStills,
    Still,
    generate_motion_sequence,
    stills_from_kitti,
    stills_from_mot,
    stills_from_sequence,
    walk,
)


def _still():
    """Grey textured background with a saturated red 20x30 object at x 40..60, y 30..60."""
    rng = np.random.default_rng(0)
    image = np.full((120, 160, 3), 90, np.uint8)
    image[..., 1] = rng.integers(60, 120, (120, 160))
    image[30:60, 40:60] = (250, 0, 0)
    return image, np.array([40.0, 30.0, 60.0, 60.0])


def test_shapes_and_first_frame_box():
    image, box = _still()
    cfg = MotionConfig(length=6, out_size=(64, 80))
    s = generate_motion_sequence(image, box, cfg, np.random.default_rng(1))
    assert s.frames.shape == (6, 3, 64, 80) and s.frames.dtype == np.float32
    assert s.boxes.shape == (6, 4) and s.boxes.dtype == np.float32
    assert 0 <= s.frames.min() and s.frames.max() <= 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_boxes_are_tight_around_the_moving_object(seed):
    image, box = _still()
    cfg = MotionConfig(length=8, out_size=(96, 96), object_shift=0.2, camera_shift=0.1)
    s = generate_motion_sequence(image, box, cfg, np.random.default_rng(seed))
    for t in range(cfg.length):
        red = (s.frames[t, 0] > 0.8) & (s.frames[t, 1] < 0.2)  # the object's pixels
        ys, xs = np.nonzero(red)
        found = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        np.testing.assert_allclose(found, s.boxes[t], atol=1.5)
        # the object stays in view: its centre is inside the central part of the frame
        cx, cy = (s.boxes[t, :2] + s.boxes[t, 2:]) / 2
        assert 0.2 * 96 <= cx <= 0.8 * 96 and 0.2 * 96 <= cy <= 0.8 * 96


def test_inpainting_removes_the_static_twin():
    image, box = _still()
    for fill, twins in (("inpaint", False), ("none", True)):
        cfg = MotionConfig(
            length=12,
            out_size=(96, 96),
            object_shift=0.3,
            momentum=1.0,
            fill=fill,
            context_min=4.0,
            context_max=4.0,
        )
        s = generate_motion_sequence(image, box, cfg, np.random.default_rng(3))
        last = s.frames[-1]
        red = (last[0] > 0.8) & (last[1] < 0.2)
        x1, y1, x2, y2 = np.round(s.boxes[-1]).astype(int)
        outside = red.copy()
        outside[max(y1 - 1, 0) : y2 + 1, max(x1 - 1, 0) : x2 + 1] = False
        assert outside.any() == twins


def test_walk_is_stationary_with_the_given_std():
    v = walk(np.random.default_rng(0), 20000, 2.0, 0.8, 2)
    assert abs(v.std() - 2.0) < 0.1
    corr = np.mean(v[1:] * v[:-1]) / np.mean(v * v)
    assert abs(corr - 0.8) < 0.03


def test_random_box_when_still_has_none():
    image, _ = _still()
    cfg = MotionConfig(length=3)
    s = generate_motion_sequence(image, None, cfg, np.random.default_rng(5))
    assert np.isfinite(s.boxes).all() and (s.boxes[:, 2:] > s.boxes[:, :2]).all()


def test_determinism_and_sources(data_dir):
    from ratrack.data.formats import open_sequence
    from ratrack.data.kitti import KittiTracking

    kitti = stills_from_kitti(KittiTracking(data_dir / "kitti_tracking", missing_images="keep"))
    assert len(kitti) > 0 and all(p.path.is_file() for p in kitti)
    mot = stills_from_mot(open_sequence(data_dir / "mot17_mini" / "train" / "MOT17-09-FRCNN"))
    assert len(mot) > 0
    raw = stills_from_sequence(open_sequence(data_dir / "kitti_raw_frames" / "2011_09_26"))
    assert len(raw) == 78 and raw[0].box is None
    otb = stills_from_sequence(open_sequence(data_dir / "otb" / "Crossing"))
    assert len(otb) == 120
    cfg = MotionConfig(length=4, out_size=(48, 48))
    a = MotionOnStills(kitti + mot + raw, cfg, num_sequences=3, seed=2)
    b = MotionOnStills(kitti + mot + raw, cfg, num_sequences=3, seed=2)
    for i in range(3):
        np.testing.assert_array_equal(a[i].frames, b[i].frames)
        np.testing.assert_array_equal(a[i].boxes, b[i].boxes)
    with pytest.raises(IndexError):
        a[3]


def test_bad_input():
    image, _box = _still()
    with pytest.raises(ValueError):
        MotionConfig(momentum=2)
    with pytest.raises(ValueError):
        MotionConfig(context_min=5, context_max=4)
    with pytest.raises(ValueError):
        MotionConfig(fill="blur")
    with pytest.raises(ValueError):
        generate_motion_sequence(
            image, np.array([5.0, 5, 5, 9]), MotionConfig(), np.random.default_rng(0)
        )
    with pytest.raises(ValueError):
        MotionOnStills([], MotionConfig(), num_sequences=1)


def test_box_outside_the_image_is_a_data_error(tmp_path):
    import cv2

    from ratrack.errors import DataError

    image, _ = _still()
    cv2.imwrite(str(tmp_path / "a.png"), image)
    data = MotionOnStills(
        [Still(tmp_path / "a.png", np.array([500.0, 1, 600, 20]))],
        MotionConfig(length=2),
        num_sequences=1,
    )
    with pytest.raises(DataError, match="outside"):
        data[0]
