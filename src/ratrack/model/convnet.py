"""The tracker's conv net: glimpse -> feature vector."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ratrack.model.config import TrackerConfig


class ConvNet(nn.Module):
    """Glimpse ``(B, C, h, w)`` -> features ``(B, F)``: 3x3 conv + ReLU + 2x2 max-pool stages."""

    def __init__(self, *, config: TrackerConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = config.in_channels
        for width in config.conv_channels:
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
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
