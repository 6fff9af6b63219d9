"""The tracker's conv net: glimpse -> feature vector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.model.config import TrackerConfig


class MaxPool2x2(nn.Module):
    """2x2 max-pool with stride 2, ``(B, c, h, w)`` -> ``(B, c, h // 2, w // 2)``: the values of
    ``nn.MaxPool2d(2)``. Without a gradient to track it takes the maximum of the four strided
    views of each 2x2 cell (rows, then columns), which on a CPU at tracking's small batches
    costs a fraction of the pooling kernel (max is exact: the same values)."""

    def forward(self, x: Tensor) -> Tensor:
        if torch.is_grad_enabled() and x.requires_grad:
            return F.max_pool2d(x, 2)
        h, w = x.shape[-2] // 2 * 2, x.shape[-1] // 2 * 2
        rows = torch.maximum(x[..., 0:h:2, :w], x[..., 1:h:2, :w])  # (B, c, h // 2, w)
        return torch.maximum(rows[..., 0::2], rows[..., 1::2])  # (B, c, h // 2, w // 2)


class ConvNet(nn.Module):
    """Glimpse ``(B, C, h, w)`` -> features ``(B, F)``: 3x3 conv + ReLU + 2x2 max-pool stages."""

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = config.in_channels
        for width in config.conv_channels:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), MaxPool2x2()]
            channels = width
        self.stages = nn.Sequential(*layers)
        h, w = config.glimpse_size
        cells = (h >> len(config.conv_channels)) * (w >> len(config.conv_channels))
        self.project = nn.Linear(channels * cells, config.feature_size)
        self.mean, self.std = config.pixel_mean, config.pixel_std

    def forward(self, glimpses: Tensor) -> Tensor:
        return self.features_and_map(glimpses, 0)[0]  # (B, F)

    def features_and_map(self, glimpses: Tensor, stage: int) -> tuple[Tensor, Tensor]:
        """Features ``(B, F)`` and the feature map after ``stage`` conv stages (0: the
        normalized glimpse)."""
        x = (glimpses - self.mean) / self.std
        kept = x
        for i, layer in enumerate(self.stages):
            x = layer(x)
            if i == 3 * stage - 1:  # each stage is conv, ReLU, pool
                kept = x
        return F.relu(self.project(x.flatten(1))), kept


class MatchNet(nn.Module):
    """Match glimpse ``(B, C, h, w)`` -> feature map ``(B, match_features, h, w)`` at the same
    resolution, for the learned half of template matching: two 3x3 convs (the second dilated
    by 2, so each cell sees 7x7 pixels) with a ReLU between, on glimpses normalized as the conv
    net's. Its first conv can start from the pretrained conv net's first stage
    (:meth:`start_from`)."""

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        width = config.conv_channels[0]
        self.first = nn.Conv2d(config.in_channels, width, 3, padding=1)
        self.second = nn.Conv2d(width, config.match_features, 3, padding=2, dilation=2)
        self.mean, self.std = config.pixel_mean, config.pixel_std

    def start_from(self, conv: ConvNet) -> None:
        """Copy the conv net's first conv into :attr:`first` (same shape)."""
        self.first.load_state_dict(conv.stages[0].state_dict())

    def forward(self, glimpses: Tensor) -> Tensor:
        x = (glimpses - self.mean) / self.std
        return self.second(F.relu(self.first(x)))
