"""ImageNet features for the tracker's confidence: the first blocks of MobileNetV2.

MobileNetV2 (Sandler et al. 2018, Table 2) is a 3x3 stride-2 convolution to 32 channels and then
inverted residual blocks ``(t, c, n, s)``: ``n`` blocks of ``c`` output channels, the first with
stride ``s``, each a 1x1 expansion to ``t`` times its input channels (none when ``t = 1``), a 3x3
depthwise convolution and a linear 1x1 projection, with a residual where input and output shapes
agree; ReLU6 after the stem, the expansion and the depthwise convolution. Here every batch norm
is folded into the convolution before it (:func:`fold_batch_norm`), so the modules are plain
convolutions with biases; :func:`from_mobilenet_v2` reads ImageNet weights stored in the
``features.*`` layout of a MobileNetV2 with batch norms (see ``tools/add_deep_score.py``).
The tracker's score needs the features under one patch of each glimpse:
:meth:`DeepFeatures.under` computes only the part of the network that patch depends on.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.model.glimpse import patches_at

# (t, c, n, s) of MobileNetV2's first stages, down to stride 16; the stem is block 0
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2))
STEM_CHANNELS = 32
MAX_BLOCKS = 1 + sum(n for _, _, n, _ in SETTINGS)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InvertedResidual(nn.Module):
    """``x -> x + project(relu6(depthwise(relu6(expand(x)))))`` (the residual only when stride is
    1 and the channels agree; no expansion when ``expand`` is 1), batch norms folded."""

    def __init__(self, inputs: int, outputs: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inputs * expand
        self.expand = nn.Conv2d(inputs, hidden, 1) if expand != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden)
        self.project = nn.Conv2d(hidden, outputs, 1)
        self.residual = stride == 1 and inputs == outputs

    def convs(self) -> list[nn.Conv2d]:
        """The convolutions in the order of the batch-norm layout's ``conv`` entries."""
        first = [] if self.expand is None else [self.expand]
        return [*first, self.depthwise, self.project]

    def forward(self, x: Tensor) -> Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))
        return x + y if self.residual else y


class DeepFeatures(nn.Module):
    """RGB glimpse ``(B, 3, h, w)`` in [0, 1] (or gray ``(B, 1, h, w)``) -> ImageNet features
    ``(B, channels, h, w)``: the first ``blocks`` blocks of MobileNetV2 (the stem counts as one)
    on the glimpse normalized by ImageNet's mean and std, upsampled bilinearly back to the
    glimpse's resolution so that each glimpse sample has a feature vector. ``blocks=4`` ends at
    stride 4 with 24 channels."""

    def __init__(self, *, blocks: int) -> None:
        super().__init__()
        if not 1 <= blocks <= MAX_BLOCKS:
            raise ValueError(f"blocks must be in [1, {MAX_BLOCKS}], got {blocks}")
        self.stem = nn.Conv2d(3, STEM_CHANNELS, 3, 2, 1)
        layers: list[InvertedResidual] = []
        channels = STEM_CHANNELS
        for expand, width, repeats, stride in SETTINGS:
            for i in range(repeats):
                if len(layers) < blocks - 1:
                    layers.append(
                        InvertedResidual(channels, width, stride if i == 0 else 1, expand)
                    )
                    channels = width
        self.blocks = nn.Sequential(*layers)
        self.channels = channels
        # the convolutions' strides, and the receptive field's half-width in input samples
        self.strides = (2, *(layer.depthwise.stride[0] for layer in layers))
        field, stride = 3, 2
        for s in self.strides[1:]:
            field += 2 * stride  # a 3x3 depthwise convolution at the input's stride
            stride *= s
        self.stride, self.half_field = stride, (field - 1) // 2
        # ImageNet's normalization; not saved: it is part of the architecture
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, glimpses: Tensor) -> Tensor:
        return self._upsampled(self._coarse(glimpses), glimpses.shape[-2:])

    def _coarse(self, glimpses: Tensor) -> Tensor:
        """The features at :attr:`stride`, ``(B, D, h', w')``."""
        x = glimpses.expand(-1, 3, -1, -1) if glimpses.shape[1] == 1 else glimpses
        return self.blocks(F.relu6(self.stem((x - self.mean) / self.std)))

    @staticmethod
    def _upsampled(coarse: Tensor, size: tuple[int, int]) -> Tensor:
        """The features back at the glimpse's resolution ``size``."""
        return F.interpolate(coarse, size=size, mode="bilinear", align_corners=False)

    def coarse_size(self, n: int) -> int:
        """The features' side at :attr:`stride` for an input side ``n`` (each convolution
        3x3 with padding 1)."""
        for s in self.strides:
            n = (n - 1) // s + 1
        return n

    def under(self, glimpses: Tensor, at: Tensor, k: int) -> Tensor:
        """``self(glimpses)`` under the ``k``-wide patch of each glimpse (``(B, C, h, w)``)
        whose top-left sample is ``at`` ``(B, 2)`` (row, column): ``(B, D, k, k)``, the same
        numbers to float rounding. On a CPU only the features the patch interpolates are
        computed, from the input samples in their receptive field, and only the patch's samples
        are interpolated; elsewhere the whole glimpse, so nothing is read back from the device.
        """
        B, _, h, w = glimpses.shape
        if glimpses.device.type != "cpu":
            return patches_at(self(glimpses), torch.arange(B, device=at.device), at, k)
        hc, wc = self.coarse_size(h), self.coarse_size(w)
        s = self.stride
        out = []
        for i, (y, x) in enumerate(at.tolist()):
            (y0, y1), (x0, x1) = self._span(y, k, h, hc), self._span(x, k, w, wc)
            coarse = self._coarse(glimpses[i : i + 1, :, y0:y1, x0:x1])[0]  # (D, h', w')
            (top, bottom, dy), (left, right, dx) = (
                _bilinear(a, k, n, c, first // s, glimpses.dtype)
                for a, n, c, first in ((y, h, hc, y0), (x, w, wc, x0))
            )
            rows_part = coarse[:, top] * (1 - dy)[:, None] + coarse[:, bottom] * dy[:, None]
            out.append(rows_part[:, :, left] * (1 - dx) + rows_part[:, :, right] * dx)
        return torch.stack(out)

    def _span(self, a: int, k: int, n: int, coarse: int) -> tuple[int, int]:
        """The input samples ``[lo, hi)`` of a side of ``n`` (``coarse`` features) that the
        features of samples ``a .. a + k - 1`` depend on: those the bilinear upsampling reads
        (:func:`_bilinear`) and their receptive fields; ``lo`` a multiple of :attr:`stride`,
        so that the features' grid is the whole glimpse's."""
        scale = coarse / n
        first = math.floor(max((a + 0.5) * scale - 0.5, 0.0))
        last = min(math.floor(max((a + k - 0.5) * scale - 0.5, 0.0)) + 1, coarse - 1)
        s = self.stride
        lo = max((s * first - self.half_field) // s * s, 0)
        return lo, min(s * last + self.half_field + 1, n)


def _bilinear(
    a: int, k: int, n: int, coarse: int, first: int, dtype: torch.dtype
) -> tuple[Tensor, Tensor, Tensor]:
    """Bilinear upsampling of ``coarse`` features to ``n`` samples (``align_corners=False``,
    as :func:`torch.nn.functional.interpolate`) at samples ``a .. a + k - 1``: the two
    features each reads, numbered from feature ``first``, and the second one's weight."""
    scale = torch.tensor(coarse / n, dtype=dtype)
    source = ((torch.arange(a, a + k, dtype=dtype) + 0.5) * scale - 0.5).clamp(min=0)
    low = source.floor()
    weight = source - low
    low = low.long()
    high = (low + 1).clamp(max=coarse - 1)
    return low - first, high - first, weight


def fold_batch_norm(
    weight: Tensor, bias: Tensor | None, norm: dict[str, Tensor], eps: float = 1e-5
) -> tuple[Tensor, Tensor]:
    """The weight and bias of a convolution followed by an inference-mode batch norm with
    ``norm``'s ``weight``, ``bias``, ``running_mean`` and ``running_var``, as one convolution:
    ``gamma (W x + b - mean) / sqrt(var + eps) + beta``."""
    gain = norm["weight"] / torch.sqrt(norm["running_var"] + eps)  # (out,)
    b = torch.zeros_like(norm["running_mean"]) if bias is None else bias
    return weight * gain.view(-1, *[1] * (weight.dim() - 1)), norm["bias"] + gain * (
        b - norm["running_mean"]
    )


def from_mobilenet_v2(module: DeepFeatures, state: dict[str, Tensor]) -> None:
    """Load ``state``, a MobileNetV2 with batch norms in the ``features.*`` layout (the stem
    ``features.0.{0,1}`` as conv and norm, each block ``features.i.conv.{j}`` with every
    convolution followed by its norm), into ``module`` with the norms folded. Raises
    ``KeyError`` naming the first missing entry."""

    def norm(prefix: str) -> dict[str, Tensor]:
        keys = ("weight", "bias", "running_mean", "running_var")
        return {k: state[f"{prefix}.{k}"] for k in keys}

    pairs = [(module.stem, "features.0.0", "features.0.1")]
    for i, block in enumerate(module.blocks, start=1):
        # the block's convs sit at conv.0, conv.3 (conv.6), each followed by its norm
        pairs += [
            (conv, f"features.{i}.conv.{3 * j}", f"features.{i}.conv.{3 * j + 1}")
            for j, conv in enumerate(block.convs())
        ]
    with torch.no_grad():
        for conv, weight, batch_norm in pairs:
            w, b = fold_batch_norm(
                state[f"{weight}.weight"], state.get(f"{weight}.bias"), norm(batch_norm)
            )
            conv.weight.copy_(w)
            conv.bias.copy_(b)
