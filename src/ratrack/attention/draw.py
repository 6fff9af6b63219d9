"""DRAW (Gregor et al., 2015): Gaussian filterbank attention, and the DRAW model itself.

Paper notation, mapped once (DRAW Sec. 3.2; the lecture notes in
``shared/references/lecture-ntm-draw-stn.md``). An image is ``A x B`` pixels: ``A`` is the
width (ratrack's ``W``, the ``x`` axis) and ``B`` the height (``H``, the ``y`` axis); ``N x N``
Gaussian filters form the attention patch. One linear layer of the decoder state emits five
numbers, ``(g~_X, g~_Y, log sigma^2, log delta~, log gamma) = W(h^dec)``, mapped to

* grid centre: ``g_X = (A + 1) / 2 * (g~_X + 1)``, ``g_Y = (B + 1) / 2 * (g~_Y + 1)``;
* stride: ``delta = (max(A, B) - 1) / (N - 1) * exp(log delta~)``;
* variance ``sigma^2 = exp(log sigma^2)`` and intensity ``gamma = exp(log gamma)``.

Filter ``i`` (``i = 1..N``) is centred at ``mu_X^i = g_X + (i - N/2 - 0.5) * delta`` (and
``mu_Y^j`` alike), and the filterbanks are

``F_X[i, a] = exp(-(a - mu_X^i)^2 / (2 sigma^2)) / Z_X``,
``F_Y[j, b] = exp(-(b - mu_Y^j)^2 / (2 sigma^2)) / Z_Y``,

normalized so that each row sums to one (``Z`` is the row sum, plus a tiny ``eps`` so that a
filter lying wholly off the image reads zero instead of dividing by zero). Pixel coordinates
``a`` and ``b`` are the 1-based pixel indices ``1..A`` and ``1..B``, the reading under which
``g~ = 0`` is the exact centre of the image and ``g~ = -1, +1`` lie half a pixel outside its
first and last pixels. (In ratrack's continuous convention of :mod:`ratrack.boxes`, index ``a``
is the pixel whose centre is at ``x = a - 0.5``.)

Reading and writing (DRAW Sec. 3.3):

* ``read(x, x^, h^dec_{t-1}) = gamma [F_Y x F_X^T, F_Y x^ F_X^T]``;
* ``write(h^dec_t) = 1 / gamma^ * F^_Y^T w_t F^_X`` with ``w_t = W(h^dec_t)`` an ``N x N``
  patch and ``F^``, ``gamma^`` from a second attention layer of the decoder state.

The model (DRAW Sec. 2), for ``t = 1..T``:

* ``x^_t = x - sigmoid(c_{t-1})`` (error image), ``r_t = read(x, x^_t, h^dec_{t-1})``;
* ``h^enc_t = LSTM^enc(h^enc_{t-1}, [r_t, h^dec_{t-1}])``;
* ``z_t ~ Q(Z_t | h^enc_t) = N(mu_t, sigma_t)``, reparameterized ``z_t = mu_t + sigma_t * eps``;
* ``h^dec_t = LSTM^dec(h^dec_{t-1}, z_t)``, ``c_t = c_{t-1} + write(h^dec_t)``.

The loss is the negative evidence lower bound in nats: the Bernoulli reconstruction term
``L^x = -log D(x | c_T)`` with ``D`` Bernoulli of mean ``sigmoid(c_T)``, plus the latent term
``L^z = sum_t 1/2 (mu_t^2 + sigma_t^2 - log sigma_t^2 - 1)`` (summed over latent units).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AttentionParams(NamedTuple):
    """DRAW attention parameters in image units, each ``(B,)``."""

    centre_x: Tensor  # g_X, in 1-based pixel indices along the width
    centre_y: Tensor  # g_Y, in 1-based pixel indices along the height
    stride: Tensor  # delta, pixels between neighbouring filters
    variance: Tensor  # sigma^2, of every filter, in pixels^2
    intensity: Tensor  # gamma


def attention_params(raw: Tensor, *, height: int, width: int, n: int) -> AttentionParams:
    """Map the five raw outputs ``(B, 5)`` of an attention layer to :class:`AttentionParams`.

    ``raw[:, k]`` is ``(g~_X, g~_Y, log sigma^2, log delta~, log gamma)`` for an image of
    ``height x width`` pixels (``B x A`` in the paper) and an ``n x n`` patch. For ``n = 1``
    the stride has no effect and its ``N - 1`` divisor is taken as 1.
    """
    if raw.dim() != 2 or raw.shape[1] != 5:
        raise ValueError(f"raw attention parameters must be (B, 5), got {tuple(raw.shape)}")
    _check_geometry(height, width, n)
    gx, gy, log_variance, log_stride, log_intensity = raw.unbind(-1)  # each (B,)
    return AttentionParams(
        centre_x=(width + 1) / 2 * (gx + 1),
        centre_y=(height + 1) / 2 * (gy + 1),
        stride=(max(height, width) - 1) / max(n - 1, 1) * log_stride.exp(),
        variance=log_variance.exp(),
        intensity=log_intensity.exp(),
    )


def _check_geometry(height: int, width: int, n: int) -> None:
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got height={height}, width={width}")
    if n <= 0:
        raise ValueError(f"the attention patch size n must be positive, got {n}")


def filterbank(
    params: AttentionParams, *, height: int, width: int, n: int, eps: float = 1e-8
) -> tuple[Tensor, Tensor]:
    """Gaussian filterbanks ``F_X (B, n, width)`` and ``F_Y (B, n, height)`` (``A`` = width).

    Row ``i`` of ``F_X`` is a Gaussian of variance ``params.variance`` centred at
    ``mu_X^i = g_X + (i - n/2 - 0.5) * delta`` over the 1-based pixel indices ``1..width``,
    divided by its sum plus ``eps``; ``F_Y`` likewise along the height.
    """
    _check_geometry(height, width, n)
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    gx = params.centre_x
    if gx.dim() != 1 or any(p.shape != gx.shape for p in params):
        raise ValueError(
            f"attention parameters must all be (B,), got {[tuple(p.shape) for p in params]}"
        )
    offsets = (
        torch.arange(1, n + 1, device=gx.device, dtype=gx.dtype) - n / 2 - 0.5
    )  # (n,): i - N/2 - 0.5
    mu_x = gx[:, None] + offsets * params.stride[:, None]  # (B, n)
    mu_y = params.centre_y[:, None] + offsets * params.stride[:, None]  # (B, n)
    two_var = 2 * params.variance[:, None, None]  # (B, 1, 1)

    def bank(mu: Tensor, size: int) -> Tensor:
        pixels = torch.arange(
            1, size + 1, device=gx.device, dtype=gx.dtype
        )  # (size,): 1-based pixel indices
        weights = torch.exp(-((pixels - mu[:, :, None]) ** 2) / two_var)  # (B, n, size)
        return weights / (weights.sum(dim=-1, keepdim=True) + eps)

    return bank(mu_x, width), bank(mu_y, height)


def _check_filters(fx: Tensor, fy: Tensor, gamma: Tensor) -> None:
    if fx.dim() != 3 or fy.dim() != 3 or fx.shape[:2] != fy.shape[:2]:
        raise ValueError(
            f"filterbanks must be (B, N, A) and (B, N, B) with the same B and N, "
            f"got {tuple(fx.shape)} and {tuple(fy.shape)}"
        )
    if gamma.shape != fx.shape[:1]:
        raise ValueError(f"gamma must be ({fx.shape[0]},), got {tuple(gamma.shape)}")


def read(images: Tensor, errors: Tensor, fx: Tensor, fy: Tensor, gamma: Tensor) -> Tensor:
    """Attention read: ``gamma [F_Y x F_X^T, F_Y x^ F_X^T]``.

    ``images`` and ``errors`` (``x`` and ``x^``) are ``(B, H, W)``, ``fx`` ``(B, N, W)``, ``fy``
    ``(B, N, H)``, ``gamma`` ``(B,)``. Returns the two ``N x N`` patches, ``(B, 2, N, N)``.
    """
    _check_filters(fx, fy, gamma)
    expected = (fx.shape[0], fy.shape[2], fx.shape[2])
    if images.shape != expected or errors.shape != expected:
        raise ValueError(
            f"images and errors must be {expected} for these filterbanks, "
            f"got {tuple(images.shape)} and {tuple(errors.shape)}"
        )
    both = torch.stack((images, errors), dim=1)  # (B, 2, H, W)
    patches = fy[:, None] @ both @ fx[:, None].transpose(-1, -2)  # (B, 2, N, N)
    return gamma[:, None, None, None] * patches


def write(patch: Tensor, fx: Tensor, fy: Tensor, gamma: Tensor) -> Tensor:
    """Attention write: ``1 / gamma * F_Y^T w F_X``: patch ``(B, N, N)`` -> image ``(B, H, W)``."""
    _check_filters(fx, fy, gamma)
    n = fx.shape[1]
    if patch.shape != (fx.shape[0], n, n):
        raise ValueError(f"patch must be ({fx.shape[0]}, {n}, {n}), got {tuple(patch.shape)}")
    image = fy.transpose(-1, -2) @ patch @ fx  # (B, H, W)
    return image / gamma[:, None, None]


def draw_loss(images: Tensor, canvas: Tensor, mu: Tensor, log_sigma: Tensor) -> dict[str, Tensor]:
    """Negative ELBO of DRAW in nats per image, as named terms (batch means).

    ``images`` ``(B, H, W)`` in ``[0, 1]`` (binary for a proper Bernoulli likelihood), final
    canvas logits ``canvas`` ``(B, H, W)``, posterior ``mu`` and ``log_sigma`` ``(T, B, Z)``.
    Returns ``reconstruction`` (``L^x``, Bernoulli negative log-likelihood summed over pixels),
    ``kl`` (``L^z``, summed over steps and latent units) and ``total`` = their sum.
    """
    if images.shape != canvas.shape:
        raise ValueError(f"images {tuple(images.shape)} and canvas {tuple(canvas.shape)} differ")
    if mu.shape != log_sigma.shape or mu.dim() != 3 or mu.shape[1] != images.shape[0]:
        raise ValueError(
            f"mu and log_sigma must be (T, {images.shape[0]}, Z), "
            f"got {tuple(mu.shape)} and {tuple(log_sigma.shape)}"
        )
    reconstruction = F.binary_cross_entropy_with_logits(canvas, images, reduction="none")
    reconstruction = reconstruction.flatten(1).sum(dim=1)  # (B,)
    kl = 0.5 * (mu**2 + (2 * log_sigma).exp() - 2 * log_sigma - 1)  # (T, B, Z)
    kl = kl.sum(dim=(0, 2))  # (B,)
    return {
        "reconstruction": reconstruction.mean(),
        "kl": kl.mean(),
        "total": (reconstruction + kl).mean(),
    }


@dataclass(frozen=True)
class DrawConfig:
    """Hyperparameters of :class:`DRAW` (defaults: the paper's MNIST model, shorter in time)."""

    height: int = 28  # image height B (pixels)
    width: int = 28  # image width A (pixels)
    steps: int = 16  # glimpses T (the paper uses 64 on MNIST)
    read_n: int = 2  # read patch N x N (paper: 2)
    write_n: int = 5  # write patch N x N (paper: 5)
    enc_hidden: int = 256  # encoder LSTM units (paper: 256)
    dec_hidden: int = 256  # decoder LSTM units (paper: 256)
    latent: int = 100  # latent units per step (paper: 100)
    eps: float = 1e-8  # filterbank normalization guard

    def __post_init__(self) -> None:
        sizes = (self.height, self.width, self.steps, self.read_n, self.write_n)
        units = (self.enc_hidden, self.dec_hidden, self.latent)
        if min(sizes) <= 0 or min(units) <= 0:
            raise ValueError(f"DrawConfig sizes must be positive, got {self}")
        if self.eps < 0:
            raise ValueError(f"eps must be non-negative, got {self.eps}")


class DrawState(NamedTuple):
    """DRAW's recurrent state between steps."""

    canvas: Tensor  # (B, H, W) c_{t-1}, logits
    enc_h: Tensor  # (B, enc_hidden)
    enc_c: Tensor  # (B, enc_hidden)
    dec_h: Tensor  # (B, dec_hidden)
    dec_c: Tensor  # (B, dec_hidden)


class DrawStep(NamedTuple):
    """What one inference step produced."""

    mu: Tensor  # (B, Z) posterior mean
    log_sigma: Tensor  # (B, Z) posterior log standard deviation
    z: Tensor  # (B, Z) sampled latent
    read: AttentionParams  # where it read, each (B,)
    write: AttentionParams  # where it wrote, each (B,)


class DrawOutput(NamedTuple):
    """A whole pass over ``T`` steps."""

    canvases: Tensor  # (T, B, H, W) canvas logits c_1..c_T
    mu: Tensor  # (T, B, Z)
    log_sigma: Tensor  # (T, B, Z)


class DrawSample(NamedTuple):
    """Images generated from the prior, with the canvas after every step."""

    canvases: Tensor  # (T, B, H, W) probabilities sigmoid(c_t)
    write: AttentionParams  # write attention per step, each (T, B)


class DRAW(nn.Module):
    """DRAW with attention (read ``N x N`` of image and error image, write ``N x N`` patch).

    The recurrence is explicit: :meth:`init_state` and :meth:`step` (inference, with the image)
    or :meth:`generate_step` (generation, from a latent); nothing is kept on the module between
    calls. Images are ``(B, H, W)`` in ``[0, 1]``.
    """

    def __init__(self, *, config: DrawConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.encoder = nn.LSTMCell(2 * c.read_n**2 + c.dec_hidden, c.enc_hidden)
        self.posterior = nn.Linear(c.enc_hidden, 2 * c.latent)  # -> (mu, log sigma)
        self.decoder = nn.LSTMCell(c.latent, c.dec_hidden)
        self.read_attention = nn.Linear(c.dec_hidden, 5)
        self.write_attention = nn.Linear(c.dec_hidden, 5)
        self.write_patch = nn.Linear(c.dec_hidden, c.write_n**2)
        self._init_attention(self.read_attention, c.read_n)
        self._init_attention(self.write_attention, c.write_n)

    def _init_attention(self, layer: nn.Linear, n: int) -> None:
        """Start each attention patch spread evenly over the whole image.

        With zero biases the paper's parametrization gives ``delta = (max(A, B) - 1) / (N - 1)``
        and ``sigma = 1``: for the 2x2 read that is four needle-thin filters on the image's
        corners, which read nothing on MNIST and get no gradient to move (the encoder then learns
        nothing and the posterior collapses onto the prior). The paper does not say how it
        initializes, so ratrack sets the biases to ``g~ = 0`` (centred), the stride that tiles
        the image, ``delta = max(A, B) / N``, and ``sigma = delta / 2``, with ``gamma = 1``.
        """
        c = self.config
        side = max(c.height, c.width)
        stride = side / n
        log_stride_tilde = math.log(stride * max(n - 1, 1) / (side - 1)) if side > 1 else 0.0
        with torch.no_grad():
            layer.bias.copy_(
                torch.tensor([0.0, 0.0, 2 * math.log(stride / 2), log_stride_tilde, 0.0])
            )

    def init_state(
        self, batch: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> DrawState:
        """Blank canvas (logits 0) and zero LSTM states for ``batch`` images."""
        c = self.config

        def zeros(*size: int) -> Tensor:
            return torch.zeros(*size, device=device, dtype=dtype)

        return DrawState(
            canvas=zeros(batch, c.height, c.width),
            enc_h=zeros(batch, c.enc_hidden),
            enc_c=zeros(batch, c.enc_hidden),
            dec_h=zeros(batch, c.dec_hidden),
            dec_c=zeros(batch, c.dec_hidden),
        )

    def _attention(self, layer: nn.Linear, dec_h: Tensor, n: int) -> AttentionParams:
        c = self.config
        return attention_params(layer(dec_h), height=c.height, width=c.width, n=n)

    def _filters(self, params: AttentionParams, n: int) -> tuple[Tensor, Tensor]:
        c = self.config
        return filterbank(params, height=c.height, width=c.width, n=n, eps=c.eps)

    def generate_step(self, z: Tensor, state: DrawState) -> tuple[AttentionParams, DrawState]:
        """Decoder half of a step: ``h^dec_t = LSTM^dec(h^dec_{t-1}, z_t)``, ``c_t = c_{t-1} +
        write(h^dec_t)``. ``z`` is ``(B, Z)``; returns the write attention and the new state."""
        c = self.config
        dec_h, dec_c = self.decoder(z, (state.dec_h, state.dec_c))
        where = self._attention(self.write_attention, dec_h, c.write_n)
        fx, fy = self._filters(where, c.write_n)
        patch = self.write_patch(dec_h).view(-1, c.write_n, c.write_n)  # (B, N, N)
        canvas = state.canvas + write(patch, fx, fy, where.intensity)  # (B, H, W)
        return where, state._replace(canvas=canvas, dec_h=dec_h, dec_c=dec_c)

    def step(self, images: Tensor, state: DrawState, noise: Tensor) -> tuple[DrawStep, DrawState]:
        """One inference step: ``images`` ``(B, H, W)``, standard normal ``noise`` ``(B, Z)``."""
        c = self.config
        errors = images - torch.sigmoid(state.canvas)  # (B, H, W) x^_t
        seen = self._attention(self.read_attention, state.dec_h, c.read_n)
        fx, fy = self._filters(seen, c.read_n)
        glimpse = read(images, errors, fx, fy, seen.intensity).flatten(1)  # (B, 2*N*N)
        enc_h, enc_c = self.encoder(
            torch.cat((glimpse, state.dec_h), dim=1), (state.enc_h, state.enc_c)
        )
        mu, log_sigma = self.posterior(enc_h).chunk(2, dim=1)  # (B, Z) each
        z = mu + log_sigma.exp() * noise
        state = state._replace(enc_h=enc_h, enc_c=enc_c)
        wrote, state = self.generate_step(z, state)
        return DrawStep(mu, log_sigma, z, seen, wrote), state

    def _check_images(self, images: Tensor) -> None:
        c = self.config
        if images.dim() != 3 or images.shape[1:] != (c.height, c.width):
            raise ValueError(
                f"images must be (B, {c.height}, {c.width}), got {tuple(images.shape)}"
            )

    def forward(self, images: Tensor, *, generator: torch.Generator | None = None) -> DrawOutput:
        """Run all ``T`` steps on ``images`` ``(B, H, W)``; ``generator`` drives the noise."""
        self._check_images(images)
        c = self.config
        B = images.shape[0]
        state = self.init_state(B, device=images.device, dtype=images.dtype)
        noise = torch.randn(
            c.steps, B, c.latent, generator=generator, device=images.device, dtype=images.dtype
        )  # (T, B, Z)
        canvases, mus, log_sigmas = [], [], []
        for t in range(c.steps):
            out, state = self.step(images, state, noise[t])
            canvases.append(state.canvas)
            mus.append(out.mu)
            log_sigmas.append(out.log_sigma)
        return DrawOutput(torch.stack(canvases), torch.stack(mus), torch.stack(log_sigmas))

    def loss(
        self, images: Tensor, *, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Negative ELBO terms (see :func:`draw_loss`) of ``images`` ``(B, H, W)``, in nats."""
        out = self.forward(images, generator=generator)
        return draw_loss(images, out.canvases[-1], out.mu, out.log_sigma)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None) -> DrawSample:
        """Draw ``n`` images from the prior ``z_t ~ N(0, I)``; returns every step's canvas.

        Runs on the device and dtype of the model's parameters.
        """
        if n <= 0:
            raise ValueError(f"n must be positive, got {n}")
        c = self.config
        ref = next(self.parameters())
        device, dtype = ref.device, ref.dtype
        state = self.init_state(n, device=device, dtype=dtype)
        z = torch.randn(c.steps, n, c.latent, generator=generator, device=device, dtype=dtype)
        canvases, writes = [], []
        for t in range(c.steps):
            where, state = self.generate_step(z[t], state)
            canvases.append(torch.sigmoid(state.canvas))
            writes.append(where)
        stacked = AttentionParams(*(torch.stack(p) for p in zip(*writes, strict=True)))  # (T, n)
        return DrawSample(torch.stack(canvases), stacked)
