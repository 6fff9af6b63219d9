import math

import pytest
import torch

from ratrack.attention.draw import (
    DRAW,
    AttentionParams,
    DrawConfig,
    attention_params,
    draw_loss,
    filterbank,
    read,
    write,
)


def params(gx, gy, stride, variance, intensity, dtype=torch.float32):
    values = [
        torch.as_tensor(v, dtype=dtype).reshape(-1) for v in (gx, gy, stride, variance, intensity)
    ]
    return AttentionParams(*values)


def slow_filterbank(p, height, width, n, eps=1e-8):
    """The filterbank of DRAW Sec. 3.2 with explicit loops over batch, filter and pixel."""
    B = p.centre_x.shape[0]
    fx = torch.zeros(B, n, width, dtype=p.centre_x.dtype)
    fy = torch.zeros(B, n, height, dtype=p.centre_x.dtype)
    for b in range(B):
        var = p.variance[b].item()
        for i in range(1, n + 1):
            mu_x = p.centre_x[b].item() + (i - n / 2 - 0.5) * p.stride[b].item()
            mu_y = p.centre_y[b].item() + (i - n / 2 - 0.5) * p.stride[b].item()
            for a in range(1, width + 1):
                fx[b, i - 1, a - 1] = math.exp(-((a - mu_x) ** 2) / (2 * var))
            for bb in range(1, height + 1):
                fy[b, i - 1, bb - 1] = math.exp(-((bb - mu_y) ** 2) / (2 * var))
        fx[b] /= fx[b].sum(dim=1, keepdim=True) + eps
        fy[b] /= fy[b].sum(dim=1, keepdim=True) + eps
    return fx, fy


def test_attention_params_follow_the_paper():
    # A = width 9, B = height 5, N = 3: g_X = (A+1)/2 (g~+1), delta = (max(A,B)-1)/(N-1) e^{ld}.
    raw = torch.tensor([[0.0, -1.0, math.log(2.0), 0.0, math.log(3.0)], [0.5, 1.0, 0.0, -1.0, 0.0]])
    p = attention_params(raw, height=5, width=9, n=3)
    torch.testing.assert_close(p.centre_x, torch.tensor([5.0, 7.5]))
    torch.testing.assert_close(p.centre_y, torch.tensor([0.0, 6.0]))
    torch.testing.assert_close(p.stride, torch.tensor([4.0, 4.0 * math.exp(-1.0)]))
    torch.testing.assert_close(p.variance, torch.tensor([2.0, 1.0]))
    torch.testing.assert_close(p.intensity, torch.tensor([3.0, 1.0]))


def test_filterbank_known_values():
    # One filter centred on pixel 2 of 3, variance 1/2: weights e^{-(a-2)^2} = [e^-1, 1, e^-1].
    fx, fy = filterbank(params(2.0, 1.0, 1.0, 0.5, 1.0), height=1, width=3, n=1)
    e = math.exp(-1.0)
    torch.testing.assert_close(fx, torch.tensor([[[e, 1.0, e]]]) / (1 + 2 * e))
    torch.testing.assert_close(fy, torch.ones(1, 1, 1))


def test_filterbank_rows_sum_to_one():
    g = torch.Generator().manual_seed(0)
    B = 6
    p = AttentionParams(
        centre_x=torch.rand(B, generator=g) * 10 + 5,
        centre_y=torch.rand(B, generator=g) * 6 + 4,
        stride=torch.rand(B, generator=g) * 2 + 0.5,
        variance=torch.rand(B, generator=g) * 3 + 0.5,
        intensity=torch.ones(B),
    )
    fx, fy = filterbank(p, height=14, width=20, n=4)
    assert fx.shape == (B, 4, 20)
    assert fy.shape == (B, 4, 14)
    torch.testing.assert_close(fx.sum(-1), torch.ones(B, 4))
    torch.testing.assert_close(fy.sum(-1), torch.ones(B, 4))
    assert (fx >= 0).all() and (fy >= 0).all()


def test_filterbank_matches_slow_loop_reference():
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(4, 5, generator=g, dtype=torch.float64) * 0.5
    p = attention_params(raw, height=7, width=9, n=3)
    fast = filterbank(p, height=7, width=9, n=3)
    slow = slow_filterbank(p, 7, 9, 3)
    for a, b in zip(fast, slow, strict=True):
        torch.testing.assert_close(a, b)


def test_gradcheck_filterbank_wrt_its_parameters():
    g = torch.Generator().manual_seed(2)
    raw = (torch.randn(3, 5, generator=g, dtype=torch.float64) * 0.3).requires_grad_()

    def bank(r):
        return filterbank(attention_params(r, height=6, width=5, n=3), height=6, width=5, n=3)

    assert torch.autograd.gradcheck(bank, (raw,))


def test_gradcheck_read_and_write():
    g = torch.Generator().manual_seed(3)
    p = attention_params(
        torch.randn(2, 5, generator=g, dtype=torch.float64) * 0.3, height=5, width=4, n=2
    )
    fx, fy = filterbank(p, height=5, width=4, n=2)
    fx, fy = fx.requires_grad_(), fy.requires_grad_()
    gamma = p.intensity.clone().requires_grad_()
    x = torch.rand(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    e = torch.rand(2, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 2, 2, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(read, (x, e, fx, fy, gamma))
    assert torch.autograd.gradcheck(write, (w, fx, fy, gamma))


def test_read_of_a_constant_image_is_the_constant_times_gamma():
    # Normalized rows: every patch value is sum_b sum_a F_Y[j,b] c F_X[i,a] = c, then * gamma.
    p = params([14.0, 10.0], [14.0, 20.0], [3.0, 5.0], [2.0, 0.7], [2.0, 0.5])
    fx, fy = filterbank(p, height=28, width=28, n=3)
    images = torch.full((2, 28, 28), 0.3)
    errors = torch.full((2, 28, 28), -0.1)
    out = read(images, errors, fx, fy, p.intensity)
    assert out.shape == (2, 2, 3, 3)
    expected = torch.tensor([[0.6, -0.2], [0.15, -0.05]])[:, :, None, None].expand(2, 2, 3, 3)
    torch.testing.assert_close(out, expected)


def test_write_then_read_on_a_pixel_grid_is_the_identity():
    # 3x3 image, N = 3, g~ = 0 -> centre pixel 2, delta = (3-1)/(3-1) = 1, tiny variance: each
    # filter is one pixel, so write puts the patch on the image and read takes it back; the
    # 1/gamma of write and the gamma of read cancel.
    raw = torch.tensor([[0.0, 0.0, math.log(0.01), 0.0, math.log(4.0)]], dtype=torch.float64)
    p = attention_params(raw, height=3, width=3, n=3)
    fx, fy = filterbank(p, height=3, width=3, n=3)
    torch.testing.assert_close(fx[0], torch.eye(3, dtype=torch.float64))
    patch = torch.arange(9.0, dtype=torch.float64).view(1, 3, 3)
    image = write(patch, fx, fy, p.intensity)
    torch.testing.assert_close(image, patch / 4)
    back = read(image, image, fx, fy, p.intensity)
    torch.testing.assert_close(back[:, 0], patch)


def test_write_spreads_a_patch_value_over_the_image():
    # The transposed filterbank spreads each patch value over pixels: for N = 1 the written
    # image is w * F_Y[0]^T F_X[0] / gamma, whose total is w / gamma (rows sum to one).
    p = params(3.0, 2.5, 1.0, 1.3, 2.0)
    fx, fy = filterbank(p, height=4, width=6, n=1)
    image = write(torch.full((1, 1, 1), 5.0), fx, fy, p.intensity)
    torch.testing.assert_close(image[0], 2.5 * fy[0, 0][:, None] * fx[0, 0][None, :])
    torch.testing.assert_close(image.sum(), torch.tensor(2.5))


def test_draw_loss_known_values():
    images = torch.tensor([[[0.0, 1.0], [1.0, 1.0]]])
    canvas = torch.zeros(1, 2, 2)  # sigmoid(0) = 1/2: each pixel costs log 2
    mu = torch.zeros(3, 1, 4)
    log_sigma = torch.zeros(3, 1, 4)  # the prior itself: no KL
    terms = draw_loss(images, canvas, mu, log_sigma)
    torch.testing.assert_close(terms["reconstruction"], torch.tensor(4 * math.log(2.0)))
    torch.testing.assert_close(terms["kl"], torch.tensor(0.0))
    # KL of N(1, e^{-1}) from N(0, 1) per unit: 1/2 (1 + e^{-2} + 2 - 1) = 1 + e^{-2}/2
    terms = draw_loss(images, canvas, mu + 1, log_sigma - 1)
    torch.testing.assert_close(terms["kl"], torch.tensor(12 * (1 + math.exp(-2.0) / 2)))
    torch.testing.assert_close(terms["total"], terms["reconstruction"] + terms["kl"])


def test_draw_model_shapes_state_and_sampling():
    config = DrawConfig(
        height=12, width=10, steps=3, read_n=2, write_n=3, enc_hidden=16, dec_hidden=16, latent=4
    )
    model = DRAW(config=config)
    images = (torch.rand(5, 12, 10) > 0.5).float()
    state = model.init_state(5, device=images.device, dtype=images.dtype)
    step, state2 = model.step(images, state, torch.zeros(5, 4))
    assert step.mu.shape == step.log_sigma.shape == step.z.shape == (5, 4)
    assert state2.canvas.shape == (5, 12, 10)
    assert state.canvas.abs().sum() == 0  # the old state is untouched: nothing kept in place
    out = model(images, generator=torch.Generator().manual_seed(0))
    assert out.canvases.shape == (3, 5, 12, 10)
    assert out.mu.shape == (3, 5, 4)
    terms = model.loss(images, generator=torch.Generator().manual_seed(0))
    assert set(terms) == {"reconstruction", "kl", "total"}
    assert all(torch.isfinite(v) for v in terms.values())
    # Same noise -> same loss: the model is a pure function of its inputs.
    again = model.loss(images, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(again["total"], terms["total"])
    terms["total"].backward()
    assert model.read_attention.weight.grad.abs().sum() > 0
    sample = model.sample(2, generator=torch.Generator().manual_seed(1))
    assert sample.canvases.shape == (3, 2, 12, 10)
    assert ((sample.canvases >= 0) & (sample.canvases <= 1)).all()
    assert sample.write.centre_x.shape == (3, 2)


def test_initial_read_covers_the_image():
    # The initial 2x2 read tiles a 28x28 image: filters at the quadrant centres 7.5 and 21.5.
    model = DRAW(config=DrawConfig(enc_hidden=8, dec_hidden=8, latent=2))
    p = attention_params(model.read_attention.bias[None].detach(), height=28, width=28, n=2)
    assert p.centre_x.item() == pytest.approx(14.5)
    assert p.stride.item() == pytest.approx(14.0)
    assert p.variance.sqrt().item() == pytest.approx(7.0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: attention_params(torch.zeros(2, 4), height=5, width=5, n=2), r"\(B, 5\)"),
        (lambda: attention_params(torch.zeros(2, 5), height=0, width=5, n=2), "image size"),
        (lambda: filterbank(params(1, 1, 1, 1, 1), height=4, width=4, n=0), "patch size"),
        (lambda: filterbank(params(1, 1, 1, 1, 1), height=4, width=4, n=2, eps=-1), "eps"),
        (
            lambda: filterbank(params([1, 2], 1, 1, 1, 1), height=4, width=4, n=2),
            "all be",
        ),
        (
            lambda: read(
                torch.zeros(1, 4, 5),
                torch.zeros(1, 4, 5),
                torch.zeros(1, 2, 4),
                torch.zeros(1, 2, 4),
                torch.ones(1),
            ),
            "images and errors",
        ),
        (
            lambda: read(
                torch.zeros(1, 4, 4),
                torch.zeros(1, 4, 4),
                torch.zeros(1, 2, 4),
                torch.zeros(1, 3, 4),
                torch.ones(1),
            ),
            "filterbanks",
        ),
        (
            lambda: write(
                torch.zeros(1, 3, 3), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.ones(1)
            ),
            "patch",
        ),
        (
            lambda: write(
                torch.zeros(1, 2, 2), torch.zeros(1, 2, 4), torch.zeros(1, 2, 4), torch.ones(2)
            ),
            "gamma",
        ),
        (lambda: DrawConfig(read_n=0), "positive"),
        (
            lambda: DRAW(config=DrawConfig(enc_hidden=4, dec_hidden=4, latent=2))(
                torch.zeros(2, 27, 28)
            ),
            "images",
        ),
        (lambda: DRAW(config=DrawConfig(enc_hidden=4, dec_hidden=4, latent=2)).sample(0), "n must"),
        (
            lambda: draw_loss(
                torch.zeros(1, 2, 2),
                torch.zeros(1, 2, 3),
                torch.zeros(1, 1, 2),
                torch.zeros(1, 1, 2),
            ),
            "canvas",
        ),
        (
            lambda: draw_loss(
                torch.zeros(1, 2, 2),
                torch.zeros(1, 2, 2),
                torch.zeros(1, 2, 2),
                torch.zeros(1, 2, 2),
            ),
            "mu and log_sigma",
        ),
    ],
)
def test_bad_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
