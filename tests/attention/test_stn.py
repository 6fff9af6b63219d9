import pytest
import torch
import torch.nn.functional as F

from ratrack.attention.stn import (
    DigitClassifier,
    SpatialTransformer,
    STNClassifier,
    affine_grid,
    bilinear_sample,
    extract_glimpses,
    window_grid,
)
from ratrack.boxes import windows_to_theta

IDENTITY = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])


def slow_bilinear_sample(images, grid):
    """The STN sampler equation, literally: a sum over every source pixel of every channel."""
    B, C, H, W = images.shape
    _, h, w, _ = grid.shape
    out = torch.zeros(B, C, h, w, dtype=images.dtype)
    for b in range(B):
        for i in range(h):
            for j in range(w):
                # normalized -> pixel units with pixel centres at integers (align_corners=False)
                xs = ((grid[b, i, j, 0].item() + 1) * W - 1) / 2
                ys = ((grid[b, i, j, 1].item() + 1) * H - 1) / 2
                for n in range(H):
                    ky = max(0.0, 1 - abs(ys - n))
                    if ky == 0:
                        continue
                    for m in range(W):
                        kx = max(0.0, 1 - abs(xs - m))
                        out[b, :, i, j] += images[b, :, n, m] * kx * ky
    return out


def test_identity_theta_returns_the_input():
    images = torch.rand(3, 2, 5, 7)
    grid = affine_grid(IDENTITY.expand(3, 2, 3), (5, 7))
    torch.testing.assert_close(bilinear_sample(images, grid), images)


def test_affine_grid_identity_gives_pixel_centres():
    grid = affine_grid(IDENTITY, (2, 4))
    # align_corners=False: centres of 4 pixels across [-1, 1] are -0.75, -0.25, 0.25, 0.75
    torch.testing.assert_close(grid[0, 0, :, 0], torch.tensor([-0.75, -0.25, 0.25, 0.75]))
    torch.testing.assert_close(grid[0, :, 0, 1], torch.tensor([-0.5, 0.5]))


def test_one_pixel_shift_by_hand():
    # A 1x3 row [1, 2, 3]; theta_13 = 2/3 moves the sampling points one pixel to the right
    # (one pixel is 2/W in normalized units), so output j reads input j+1 and the last reads 0.
    images = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    theta = torch.tensor([[[1.0, 0.0, 2.0 / 3.0], [0.0, 1.0, 0.0]]])
    out = bilinear_sample(images, affine_grid(theta, (1, 3)))
    torch.testing.assert_close(out, torch.tensor([[[[2.0, 3.0, 0.0]]]]))
    # Half a pixel to the left: 0.5 * 0 + 0.5 * 1, then the midpoints 1.5 and 2.5.
    theta = torch.tensor([[[1.0, 0.0, -1.0 / 3.0], [0.0, 1.0, 0.0]]])
    out = bilinear_sample(images, affine_grid(theta, (1, 3)))
    torch.testing.assert_close(out, torch.tensor([[[[0.5, 1.5, 2.5]]]]))


def test_affine_grid_matches_torch():
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(4, 2, 3, generator=g, dtype=torch.float64)
    for size in [(1, 1), (3, 5), (8, 2)]:
        expected = F.affine_grid(theta, [4, 3, *size], align_corners=False)
        torch.testing.assert_close(affine_grid(theta, size), expected)


def test_window_grid_is_the_affine_grid_of_the_windows_theta():
    """The per-axis grid of :func:`extract_glimpses` has the very numbers of the full affine
    product (float32, windows inside and across the frame's edges)."""
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        centre = torch.rand(3, 2, generator=g) * 700 - 50
        side = torch.rand(3, 1, generator=g) * 600 + 2
        windows = torch.cat((centre - side / 2, centre + side / 2), 1)
        for size in [(86, 86), (40, 40), (5, 7)]:
            expected = affine_grid(windows_to_theta(windows, (480, 640)), size)
            assert torch.equal(window_grid(windows, (480, 640), size), expected)


def test_bilinear_sample_matches_grid_sample_and_its_gradients():
    g = torch.Generator().manual_seed(1)
    images = torch.randn(3, 2, 9, 11, generator=g, dtype=torch.float64, requires_grad=True)
    # Points spread well past the borders so zero padding is exercised on every side.
    grid = (torch.rand(3, 6, 7, 2, generator=g, dtype=torch.float64) * 3 - 1.5).requires_grad_()
    ours = bilinear_sample(images, grid)
    theirs = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(ours, theirs)
    weights = torch.randn(ours.shape, generator=g, dtype=torch.float64)
    ours_grads = torch.autograd.grad((ours * weights).sum(), (images, grid))
    theirs_grads = torch.autograd.grad((theirs * weights).sum(), (images, grid))
    for a, b in zip(ours_grads, theirs_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_bilinear_sample_matches_slow_loop_reference():
    g = torch.Generator().manual_seed(2)
    images = torch.randn(2, 2, 5, 6, generator=g, dtype=torch.float64)
    grid = torch.rand(2, 4, 3, 2, generator=g, dtype=torch.float64) * 2.6 - 1.3
    torch.testing.assert_close(bilinear_sample(images, grid), slow_bilinear_sample(images, grid))


def test_gradcheck_grid_generator():
    theta = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: affine_grid(t, (3, 4)), (theta,))


def test_gradcheck_sampler_wrt_images_and_grid():
    g = torch.Generator().manual_seed(3)
    images = torch.randn(2, 2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    # Keep points off the pixel-centre lines, where the bilinear kernel has a kink.
    grid = torch.rand(2, 3, 3, 2, generator=g, dtype=torch.float64) * 2.4 - 1.2
    grid = grid.requires_grad_()
    assert torch.autograd.gradcheck(bilinear_sample, (images, grid))


def test_sampler_gradient_matches_the_stn_equation():
    # dV/dx^s = sum over the 4 neighbours of U_nm * max(0, 1 - |y^s - n|) * sign(m - x^s),
    # times W/2 to convert pixel units to normalized units.
    images = torch.tensor([[[[1.0, 4.0], [2.0, 8.0]]]], dtype=torch.float64)  # H = W = 2
    xs, ys = 0.3, 0.6  # pixel units, between the four pixel centres
    point = torch.tensor([[[[(2 * xs + 1) / 2 - 1, (2 * ys + 1) / 2 - 1]]]], dtype=torch.float64)
    point.requires_grad_()
    bilinear_sample(images, point).sum().backward()
    d_dx = (4.0 - 1.0) * (1 - ys) + (8.0 - 2.0) * ys  # right minus left, weighted by y kernel
    d_dy = (2.0 - 1.0) * (1 - xs) + (8.0 - 4.0) * xs
    W = H = 2
    expected = torch.tensor([d_dx * W / 2, d_dy * H / 2], dtype=torch.float64)
    torch.testing.assert_close(point.grad[0, 0, 0], expected)


def test_extract_glimpses_of_the_whole_frame_is_identity():
    frames = torch.rand(2, 3, 6, 10)
    windows = torch.tensor([[0.0, 0.0, 10.0, 6.0]]).expand(2, 4)
    torch.testing.assert_close(extract_glimpses(frames, windows, (6, 10)), frames)


def test_extract_glimpses_matches_own_sampler():
    frames = torch.rand(2, 1, 12, 15)
    windows = torch.tensor([[2.0, 3.0, 9.5, 11.0], [-4.0, -2.0, 8.0, 20.0]])
    from ratrack.boxes import windows_to_theta

    grid = affine_grid(windows_to_theta(windows, (12, 15)), (4, 5))
    torch.testing.assert_close(
        extract_glimpses(frames, windows, (4, 5)), bilinear_sample(frames, grid)
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: affine_grid(torch.zeros(2, 3, 3), (4, 4)), "theta must be"),
        (lambda: affine_grid(torch.zeros(2, 2, 3), (0, 4)), "size"),
        (lambda: affine_grid(torch.zeros(2, 2, 3, dtype=torch.long), (4, 4)), "floating"),
        (lambda: bilinear_sample(torch.zeros(2, 4, 4), torch.zeros(2, 3, 3, 2)), "images"),
        (lambda: bilinear_sample(torch.zeros(2, 1, 4, 4), torch.zeros(3, 3, 3, 2)), "grid"),
        (lambda: bilinear_sample(torch.zeros(2, 1, 4, 4), torch.zeros(2, 3, 3, 3)), "grid"),
        (
            lambda: bilinear_sample(torch.zeros(1, 1, 4, 4), torch.zeros(1, 3, 3, 2).double()),
            "dtype",
        ),
        (lambda: extract_glimpses(torch.zeros(2, 1, 4, 4), torch.zeros(3, 4), (2, 2)), "windows"),
        (lambda: extract_glimpses(torch.zeros(1, 4, 4), torch.zeros(1, 4), (2, 2)), "frames"),
        (lambda: extract_glimpses(torch.zeros(1, 1, 4, 4), torch.zeros(1, 4), (2,)), "size"),
    ],
)
def test_bad_shapes_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_spatial_transformer_starts_at_identity_and_learns_theta():
    stn = SpatialTransformer(in_channels=1, in_size=(12, 12), out_size=(12, 12))
    images = torch.rand(4, 1, 12, 12)
    glimpses, theta = stn(images)
    torch.testing.assert_close(theta, IDENTITY.expand(4, 2, 3))
    torch.testing.assert_close(glimpses, images)
    # The gradient reaches the localization net's last layer through the sampler.
    (glimpses * torch.randn_like(glimpses)).sum().backward()
    assert stn.to_theta.weight.grad.abs().sum() > 0


def test_classifiers_shapes():
    images = torch.rand(5, 1, 20, 24)
    assert DigitClassifier(in_channels=1, in_size=(20, 24))(images).shape == (5, 10)
    logits, glimpses, theta = STNClassifier(in_channels=1, in_size=(20, 24), out_size=(8, 12))(
        images
    )
    assert logits.shape == (5, 10)
    assert glimpses.shape == (5, 1, 8, 12)
    assert theta.shape == (5, 2, 3)
    assert torch.isfinite(logits).all()
    with pytest.raises(ValueError):
        SpatialTransformer(in_channels=0, in_size=(8, 8), out_size=(8, 8))
