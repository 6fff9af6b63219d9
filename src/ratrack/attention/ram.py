"""Recurrent Attention Model (Mnih, Heess, Graves and Kavukcuoglu, 2014): a retina that moves.

Notation (paper Sec. 3), mapped to names used in code. Locations ``l`` are ``(x, y)`` in
normalized coordinates: ``(-1, -1)`` is the top-left corner of the image, ``(1, 1)`` the
bottom-right one and ``(0, 0)`` its centre; in pixels (``ratrack.boxes`` convention, pixel
centres at half-integers) ``x_pix = (x + 1) W / 2`` and ``y_pix = (y + 1) H / 2``.

* **Glimpse sensor** (:func:`retina`), ``rho(x_t, l)``: ``k`` square patches centred on ``l``;
  patch ``i`` has side ``g * r^i`` pixels and is averaged down to ``g x g`` (each scale has the
  same number of pixels at ever lower resolution); outside the image reads zero.
* **Glimpse network** (:class:`GlimpseNetwork`), ``f_g``:
  ``h_g = relu(Linear(rho(x_t, l_t)))``, ``h_l = relu(Linear(l_t))``,
  ``g_t = relu(Linear(h_g) + Linear(h_l))``.
* **Core network**, ``f_h``: ``h_t = relu(Linear(h_{t-1}) + Linear(g_t))`` (the paper's core for
  its MNIST experiments; an ``nn.RNNCell`` with ReLU).
* **Location network**, ``f_l``: the mean of a Gaussian policy with fixed standard deviation
  ``sigma``: ``mu_t = tanh(Linear(h_{t-1}))``, ``l_t ~ N(mu_t, sigma^2 I)``, then clipped to
  ``[-1, 1]``; ``log pi(l_t | h_{t-1})`` is the Gaussian log density of the sample.
* **Action network**, ``f_a``: class logits ``Linear(h_T)`` after the last glimpse.
* **Baseline**, ``b_t = Linear(h_{t-1})``: predicts the reward, to reduce REINFORCE's variance.

Training (:func:`ram_loss`) is the paper's hybrid objective (Sec. 4): the reward is
``R = 1`` when the classification is right and ``0`` otherwise, and

``L = -log p(y | h_T)  -  (1/B) sum_b sum_t log pi(l^b_t | h^b_{t-1}) (R^b - b^b_t)
+ (1/B) sum_b (1/T) sum_t (R^b - b^b_t)^2``

(classification NLL, REINFORCE with the baseline subtracted, and the baseline's regression).

The location and baseline networks read ``h_{t-1}`` *detached*: the core and glimpse networks
learn only from the classification gradient, which is far less noisy than REINFORCE's one-sample
estimate; the policy learns only from REINFORCE. Here, unlike in the paper, the first location is
also a decision of the policy (from ``h_0 = 0``, so its mean is a learned start point), which gives
``T`` glimpses and ``T`` policy terms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.attention.stn import extract_glimpses


def locations_to_pixels(locations: Tensor, size: tuple[int, int]) -> Tensor:
    """Normalized ``(x, y)`` ``(..., 2)`` in ``[-1, 1]`` -> pixels, for ``size = (H, W)``."""
    if locations.shape[-1:] != (2,):
        raise ValueError(f"locations must be (..., 2), got {tuple(locations.shape)}")
    H, W = size
    scale = locations.new_tensor([W / 2, H / 2])
    return (locations + 1) * scale


def retina(images: Tensor, locations: Tensor, *, patch: int, scales: int, ratio: int = 2) -> Tensor:
    """Multi-resolution glimpse ``rho(x, l)``: ``(B, C, H, W)``, ``(B, 2)`` -> ``(B, k, C, g, g)``.

    ``g = patch``, ``k = scales``; scale ``i`` cuts a ``g r^i x g r^i`` pixel square centred on
    the location (``r = ratio``) and averages each ``r^i x r^i`` block to one pixel. Cutting uses
    bilinear sampling at the square's pixel centres (exact pixels when the centre lies on the
    pixel grid), vectorized over the batch through :func:`ratrack.attention.stn.extract_glimpses`;
    pixels outside the image read zero.
    """
    if images.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W), got {tuple(images.shape)}")
    B, _, H, W = images.shape
    if locations.shape != (B, 2):
        raise ValueError(f"locations must be ({B}, 2), got {tuple(locations.shape)}")
    if patch <= 0 or scales <= 0 or ratio < 1 or int(ratio) != ratio:
        raise ValueError(
            f"need patch >= 1, scales >= 1 and an integer ratio >= 1, got {patch}, {scales}, "
            f"{ratio}"
        )
    centres = locations_to_pixels(locations.to(images.dtype), (H, W))  # (B, 2) pixels
    patches = []
    for i in range(scales):
        factor = ratio**i
        side = patch * factor  # pixels
        half = centres.new_tensor(side / 2)
        windows = torch.cat((centres - half, centres + half), dim=1)  # (B, 4) xyxy
        cut = extract_glimpses(images, windows, (side, side))  # (B, C, side, side)
        patches.append(F.avg_pool2d(cut, factor) if factor > 1 else cut)  # (B, C, g, g)
    return torch.stack(patches, dim=1)  # (B, k, C, g, g)


class GlimpseNetwork(nn.Module):
    """``g_t = relu(Linear(h_g) + Linear(h_l))``, ``h_g = relu(Linear(rho))``,
    ``h_l = relu(Linear(l))``: ``(images (B, C, H, W), l (B, 2))`` -> ``(B, glimpse_size)``."""

    def __init__(
        self,
        *,
        channels: int,
        patch: int,
        scales: int,
        ratio: int,
        hidden: int,
        out: int,
    ) -> None:
        super().__init__()
        self.patch, self.scales, self.ratio = patch, scales, ratio
        self.what = nn.Linear(scales * channels * patch * patch, hidden)  # rho -> h_g
        self.where = nn.Linear(2, hidden)  # l -> h_l
        self.what_out = nn.Linear(hidden, out)
        self.where_out = nn.Linear(hidden, out)

    def forward(self, images: Tensor, locations: Tensor) -> Tensor:
        rho = retina(images, locations, patch=self.patch, scales=self.scales, ratio=self.ratio)
        h_g = F.relu(self.what(rho.flatten(1)))  # (B, hidden)
        h_l = F.relu(self.where(locations))  # (B, hidden)
        return F.relu(self.what_out(h_g) + self.where_out(h_l))  # (B, out)


def gaussian_log_prob(samples: Tensor, mean: Tensor, std: float) -> Tensor:
    """``log N(samples; mean, std^2 I)`` summed over the last dimension: ``(B, 2)`` -> ``(B,)``."""
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    z = (samples - mean) / std
    return (-0.5 * z**2 - math.log(std) - 0.5 * math.log(2 * math.pi)).sum(dim=-1)


@dataclass(frozen=True)
class RAMConfig:
    """Hyperparameters of :class:`RAM` (defaults: the paper's 60x60 translated-MNIST model)."""

    image_size: tuple[int, int] = (60, 60)  # (H, W) of the input images
    channels: int = 1  # C
    patch: int = 12  # g: side of each retina patch after resizing (paper: 12 for 60x60)
    scales: int = 3  # k: patches per glimpse (paper: 3 for 60x60)
    scale_ratio: int = 2  # each patch is this many times wider than the previous one
    glimpses: int = 6  # T (paper: 6 for its 1.84% result)
    glimpse_hidden: int = 128  # units of h_g and of h_l (paper: 128)
    glimpse_size: int = 256  # units of g_t (paper: 256)
    core_size: int = 256  # units of h_t (paper: 256)
    num_classes: int = 10
    location_std: float = 0.2  # sigma of the location policy, in normalized units ([-1, 1])

    def __post_init__(self) -> None:
        sizes = (self.channels, self.patch, self.scales, self.scale_ratio, self.glimpses)
        units = (self.glimpse_hidden, self.glimpse_size, self.core_size, self.num_classes)
        if min(sizes) <= 0 or min(units) <= 0 or min(self.image_size) <= 0:
            raise ValueError(f"RAMConfig sizes must be positive, got {self}")
        if self.location_std <= 0:
            raise ValueError(f"location_std must be positive, got {self.location_std}")


class RAMState(NamedTuple):
    """RAM's recurrent state between glimpses."""

    hidden: Tensor  # (B, core_size) h_t


class RAMStep(NamedTuple):
    """What one glimpse step decided."""

    location: Tensor  # (B, 2) l_t where it looked (clipped to [-1, 1])
    mean: Tensor  # (B, 2) mu_t, the policy's mean
    log_prob: Tensor  # (B,) log pi(l_t | h_{t-1}) of the (unclipped) sample
    baseline: Tensor  # (B,) b_t, the predicted reward


class RAMOutput(NamedTuple):
    """A whole episode of ``T`` glimpses."""

    logits: Tensor  # (B, num_classes) from h_T
    locations: Tensor  # (B, T, 2)
    means: Tensor  # (B, T, 2)
    log_probs: Tensor  # (B, T)
    baselines: Tensor  # (B, T)


class RAM(nn.Module):
    """Glimpse network + core RNN + location policy + action and baseline networks.

    The recurrence is explicit: :meth:`init_state` and :meth:`step`; nothing is kept on the module
    between calls. :meth:`forward` runs ``T`` glimpses; pass ``noise`` (standard normal,
    ``(T, B, 2)``) to sample locations (training), or none to look at the policy's mean
    (deterministic evaluation).
    """

    def __init__(self, *, config: RAMConfig) -> None:
        super().__init__()
        self.config = c = config
        self.glimpse = GlimpseNetwork(
            channels=c.channels,
            patch=c.patch,
            scales=c.scales,
            ratio=c.scale_ratio,
            hidden=c.glimpse_hidden,
            out=c.glimpse_size,
        )
        self.core = nn.RNNCell(c.glimpse_size, c.core_size, nonlinearity="relu")
        self.locator = nn.Linear(c.core_size, 2)
        self.baseline = nn.Linear(c.core_size, 1)
        self.classifier = nn.Linear(c.core_size, c.num_classes)

    def init_state(
        self, batch: int, *, device: torch.device | None = None, dtype: torch.dtype | None = None
    ) -> RAMState:
        """``h_0 = 0`` for ``batch`` images."""
        if batch <= 0:
            raise ValueError(f"batch must be positive, got {batch}")
        return RAMState(torch.zeros(batch, self.config.core_size, device=device, dtype=dtype))

    def step(
        self, images: Tensor, state: RAMState, noise: Tensor | None = None
    ) -> tuple[RAMStep, RAMState]:
        """Choose ``l_t`` from ``h_{t-1}``, glimpse there, update ``h_t``.

        ``images`` ``(B, C, H, W)``; ``noise`` ``(B, 2)`` standard normal, or ``None`` to look at
        the mean. The sampled location carries no gradient (it is an action); ``log_prob``
        carries the policy's gradient.
        """
        h = state.hidden.detach()  # policy and baseline do not train the core (module docstring)
        mean = torch.tanh(self.locator(h))  # (B, 2)
        if noise is None:
            sample = mean.detach()
        else:
            if noise.shape != mean.shape:
                raise ValueError(f"noise must be {tuple(mean.shape)}, got {tuple(noise.shape)}")
            sample = mean.detach() + self.config.location_std * noise
        log_prob = gaussian_log_prob(sample, mean, self.config.location_std)  # (B,)
        location = sample.clamp(-1, 1)
        hidden = self.core(self.glimpse(images, location), state.hidden)  # (B, D)
        baseline = self.baseline(h).squeeze(1)  # (B,)
        return RAMStep(location, mean, log_prob, baseline), RAMState(hidden)

    def forward(self, images: Tensor, noise: Tensor | None = None) -> RAMOutput:
        """``T`` glimpses at ``images`` ``(B, C, H, W)``; ``noise`` ``(T, B, 2)`` or ``None``."""
        c = self.config
        if images.dim() != 4 or images.shape[1:] != (c.channels, *c.image_size):
            raise ValueError(
                f"images must be (B, {c.channels}, {c.image_size[0]}, {c.image_size[1]}), "
                f"got {tuple(images.shape)}"
            )
        B = images.shape[0]
        if noise is not None and noise.shape != (c.glimpses, B, 2):
            raise ValueError(f"noise must be ({c.glimpses}, {B}, 2), got {tuple(noise.shape)}")
        state = self.init_state(B, device=images.device, dtype=images.dtype)
        steps = []
        for t in range(c.glimpses):
            out, state = self.step(images, state, None if noise is None else noise[t])
            steps.append(out)
        return RAMOutput(
            logits=self.classifier(state.hidden),  # (B, K)
            locations=torch.stack([s.location for s in steps], dim=1),  # (B, T, 2)
            means=torch.stack([s.mean for s in steps], dim=1),  # (B, T, 2)
            log_probs=torch.stack([s.log_prob for s in steps], dim=1),  # (B, T)
            baselines=torch.stack([s.baseline for s in steps], dim=1),  # (B, T)
        )


def ram_loss(
    logits: Tensor,
    labels: Tensor,
    log_probs: Tensor,
    baselines: Tensor,
    *,
    reinforce_weight: float = 1.0,
    baseline_weight: float = 1.0,
) -> dict[str, Tensor]:
    """The hybrid loss (module docstring): classification NLL + REINFORCE + baseline MSE.

    ``logits`` ``(B, K)``, ``labels`` ``(B,)``, ``log_probs`` and ``baselines`` ``(B, T)``.
    Returns ``classification``, ``reinforce``, ``baseline``, ``total`` (the weighted sum that is
    minimized) and ``reward`` (mean accuracy of the batch, no gradient). The advantage
    ``R - b_t`` is a constant in the REINFORCE term, so that term trains only the policy.
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"need logits (B, K) and labels (B,), got {tuple(logits.shape)}, {tuple(labels.shape)}"
        )
    if log_probs.dim() != 2 or log_probs.shape[0] != logits.shape[0]:
        raise ValueError(f"log_probs must be ({logits.shape[0]}, T), got {tuple(log_probs.shape)}")
    if baselines.shape != log_probs.shape:
        raise ValueError(
            f"baselines must be {tuple(log_probs.shape)}, got {tuple(baselines.shape)}"
        )
    if reinforce_weight < 0 or baseline_weight < 0:
        raise ValueError("loss weights must be non-negative")
    reward = (logits.argmax(dim=1) == labels).to(log_probs.dtype)  # (B,)
    classification = F.cross_entropy(logits, labels)
    advantage = reward[:, None] - baselines.detach()  # (B, T)
    reinforce = -(log_probs * advantage).sum(dim=1).mean()
    baseline = F.mse_loss(baselines, reward[:, None].expand_as(baselines))
    total = classification + reinforce_weight * reinforce + baseline_weight * baseline
    return {
        "total": total,
        "classification": classification,
        "reinforce": reinforce,
        "baseline": baseline,
        "reward": reward.mean().detach(),
    }
