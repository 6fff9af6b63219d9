import pytest
import torch
import torch.nn.functional as F

from ratrack.boxes import (
    BOX_FORMATS,
    apply_window_deltas,
    box_area,
    box_iou,
    box_iou_elementwise,
    boxes_from_windows,
    boxes_in_windows,
    check_boxes,
    clip_boxes,
    convert_boxes,
    target_windows,
    theta_to_windows,
    window_deltas,
    windows_to_theta,
)

BOX = torch.tensor([[10.0, 20.0, 40.0, 60.0]])  # xyxy: 30 wide, 40 high


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("xyxy", [10.0, 20.0, 40.0, 60.0]),
        ("xywh", [10.0, 20.0, 30.0, 40.0]),
        ("xywh1", [11.0, 21.0, 30.0, 40.0]),
        ("cxcywh", [25.0, 40.0, 30.0, 40.0]),
    ],
)
def test_convert_known_values_and_round_trip(fmt, expected):
    out = convert_boxes(BOX, "xyxy", fmt)
    assert out.tolist() == [expected]
    assert torch.equal(convert_boxes(out, fmt, "xyxy"), BOX)


def test_convert_all_pairs_round_trip_random():
    boxes = torch.rand(7, 3, 4, dtype=torch.float64) * 100
    boxes[..., 2:] += boxes[..., :2] + 1
    for src in BOX_FORMATS:
        for dst in BOX_FORMATS:
            there = convert_boxes(convert_boxes(boxes, "xyxy", src), src, dst)
            back = convert_boxes(there, dst, "xyxy")
            torch.testing.assert_close(back, boxes)


def test_convert_rejects_unknown_format_and_bad_shape():
    with pytest.raises(ValueError, match="unknown box format 'ltwh'"):
        convert_boxes(BOX, "ltwh", "xyxy")
    with pytest.raises(ValueError, match="unknown box format"):
        convert_boxes(BOX, "xyxy", "XYXY")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 4\)"):
        convert_boxes(torch.zeros(3, 5), "xyxy", "xywh")


def test_iou_hand_drawn():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    b = torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0]])
    expected = torch.tensor([[1 / 7, 1.0, 0.0], [0.0, 1 / 4, 0.0]])
    torch.testing.assert_close(box_iou(a, b), expected)
    torch.testing.assert_close(box_iou_elementwise(a, b[:2]), torch.tensor([1 / 7, 1 / 4]))
    assert box_area(a).tolist() == [4.0, 1.0]


def test_iou_matches_loop_reference():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(6, 4, generator=g, dtype=torch.float64) * 50
    b = torch.rand(5, 4, generator=g, dtype=torch.float64) * 50
    a[:, 2:] += a[:, :2]
    b[:, 2:] += b[:, :2]
    ref = torch.zeros(6, 5, dtype=torch.float64)
    for i in range(6):
        for j in range(5):
            iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
            ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
            inter = iw * ih
            area_a = (a[i, 2] - a[i, 0]) * (a[i, 3] - a[i, 1])
            area_b = (b[j, 2] - b[j, 0]) * (b[j, 3] - b[j, 1])
            ref[i, j] = inter / (area_a + area_b - inter)
    torch.testing.assert_close(box_iou(a, b), ref)


def test_iou_rejects_bad_shapes():
    with pytest.raises(ValueError, match="box_iou expects"):
        box_iou(torch.zeros(4), torch.zeros(2, 4))


def test_check_boxes():
    check_boxes(BOX)
    with pytest.raises(ValueError, match="positive width and height"):
        check_boxes(torch.tensor([[5.0, 5.0, 5.0, 9.0]]))
    with pytest.raises(ValueError, match="NaN"):
        check_boxes(torch.tensor([[0.0, 0.0, float("nan"), 1.0]]))


def test_windows_are_squares_around_the_box():
    win = target_windows(BOX, context=2.0)  # centre (25, 40), side 2 * max(30, 40)
    assert win.tolist() == [[-15.0, 0.0, 65.0, 80.0]]
    tiny = target_windows(torch.tensor([[0.0, 0.0, 0.2, 0.1]]), context=1.0, min_size=1.0)
    assert tiny.tolist() == [
        [-0.4000000059604645, -0.44999998807907104, 0.6000000238418579, 0.550000011920929]
    ]
    with pytest.raises(ValueError, match="context must be positive"):
        target_windows(BOX, context=0.0)


def test_iou_is_vectorized_over_leading_dims():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 5, 4, generator=g) * 20
    b = torch.rand(3, 4, 4, generator=g) * 20
    a[..., 2:] += a[..., :2] + 1
    b[..., 2:] += b[..., :2] + 1
    iou = box_iou(a, b)  # (2, 3, 5, 4): b broadcasts over a's first dim
    assert iou.shape == (2, 3, 5, 4)
    for i in range(2):
        for j in range(3):
            torch.testing.assert_close(iou[i, j], box_iou(a[i, j], b[j]))


def test_theta_of_whole_frame_is_identity_and_round_trips():
    theta = windows_to_theta(torch.tensor([[0.0, 0.0, 640.0, 480.0]]), (480, 640))
    torch.testing.assert_close(theta, torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]))
    windows = torch.tensor(
        [[10.0, 20.0, 110.0, 70.0], [-30.0, 5.0, 20.0, 400.0]], dtype=torch.float64
    )
    back = theta_to_windows(windows_to_theta(windows, (375, 1242)), (375, 1242))
    torch.testing.assert_close(back, windows)


def test_theta_samples_the_window_pixels():
    # A window over pixels 2..3 (x) and 1..2 (y) of a 4x5 frame cut at 2x2 must return them.
    frame = torch.arange(20.0).view(1, 1, 4, 5)
    window = torch.tensor([[2.0, 1.0, 4.0, 3.0]])
    theta = windows_to_theta(window, (4, 5))
    grid = F.affine_grid(theta, [1, 1, 2, 2], align_corners=False)
    glimpse = F.grid_sample(frame, grid, align_corners=False)
    torch.testing.assert_close(glimpse, frame[:, :, 1:3, 2:4])


def test_boxes_in_windows_round_trip_and_edges():
    windows = torch.tensor([[0.0, 0.0, 10.0, 20.0]])
    rel = boxes_in_windows(windows, windows)
    assert rel.tolist() == [[-1.0, -1.0, 1.0, 1.0]]
    boxes = torch.tensor([[2.0, 3.0, 5.0, 9.0]])
    torch.testing.assert_close(boxes_from_windows(boxes_in_windows(boxes, windows), windows), boxes)


def test_window_deltas_invert_exactly():
    g = torch.Generator().manual_seed(1)
    src = torch.rand(20, 4, generator=g, dtype=torch.float64) * 100
    src[:, 2:] += src[:, :2] + 1
    deltas = torch.randn(20, 4, generator=g, dtype=torch.float64) * 0.3
    dst = apply_window_deltas(src, deltas)
    torch.testing.assert_close(window_deltas(src, dst), deltas)
    torch.testing.assert_close(apply_window_deltas(src, window_deltas(src, dst)), dst)


def test_clip_boxes():
    out = clip_boxes(torch.tensor([[-5.0, -1.0, 700.0, 100.0]]), (480, 640))
    assert out.tolist() == [[0.0, 0.0, 640.0, 100.0]]


def test_device_and_dtype_preserved():
    boxes = BOX.to(torch.float64)
    for out in (
        convert_boxes(boxes, "xyxy", "cxcywh"),
        target_windows(boxes, 2.0),
        box_iou(boxes, boxes),
    ):
        assert out.dtype == torch.float64
        assert out.device == boxes.device
