"""ImageNet features of the score (issue #13): MobileNetV2's first blocks with folded norms."""

import pytest
import torch
from torch import nn

from ratrack.model.config import TrackerConfig
from ratrack.model.mobilenet import (
    MAX_BLOCKS,
    DeepFeatures,
    fold_batch_norm,
    from_mobilenet_v2,
)


def _norm(channels: int) -> nn.BatchNorm2d:
    norm = nn.BatchNorm2d(channels)
    with torch.no_grad():  # running statistics and an affine part far from the identity
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
        norm.running_mean.normal_()
        norm.running_var.uniform_(0.5, 2.0)
    return norm


class _Block(nn.Module):
    """A MobileNetV2 inverted residual with its batch norms, in the layout ``conv.{j}``."""

    def __init__(self, inputs: int, outputs: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inputs * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(inputs, hidden, 1, bias=False), _norm(hidden), nn.ReLU6()]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            _norm(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, outputs, 1, bias=False),
            _norm(outputs),
        ]
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and inputs == outputs

    def forward(self, x):
        return x + self.conv(x) if self.residual else self.conv(x)


def _reference(blocks: int) -> nn.Module:
    """The unfolded network of ``DeepFeatures(blocks=blocks)``, drawn at random (seed 0)."""
    torch.manual_seed(0)
    stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), _norm(32), nn.ReLU6())
    specs = [(32, 16, 1, 1), (16, 24, 2, 6), (24, 24, 1, 6), (24, 32, 2, 6), (32, 32, 1, 6)]
    net = nn.Module()
    net.features = nn.Sequential(stem, *[_Block(*s) for s in specs[: blocks - 1]])
    return net.eval()


@pytest.mark.parametrize("blocks", [1, 2, 4, 6])
def test_folded_network_matches_the_one_with_batch_norms(blocks):
    reference = _reference(blocks)
    features = DeepFeatures(blocks=blocks)
    from_mobilenet_v2(features, reference.state_dict())
    glimpses = torch.rand(2, 3, 40, 40)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = reference.features((glimpses - mean) / std)
        expected = nn.functional.interpolate(expected, size=(40, 40), mode="bilinear")
        got = features(glimpses)
    assert got.shape == (2, features.channels, 40, 40)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("blocks", [1, 4, 6])
@pytest.mark.parametrize("size", [(86, 86), (64, 64), (50, 86), (86, 31), (22, 22), (150, 150)])
def test_features_under_a_patch_are_the_whole_glimpses(blocks, size):
    """``under`` computes only what a patch's features depend on: the same numbers as the
    whole glimpse's features cut there, at the glimpse's corners, edges and inside."""
    torch.manual_seed(blocks)
    features = DeepFeatures(blocks=blocks)
    from_mobilenet_v2(features, _reference(blocks).state_dict())  # weights far from zero
    h, w = size
    k = 22
    glimpses = torch.rand(4, 3, h, w)
    corners = torch.tensor([[0, 0], [h - k, w - k], [0, w - k], [h - k, 0]])
    inside = torch.stack((torch.randint(0, h - k + 1, (4,)), torch.randint(0, w - k + 1, (4,))), 1)
    with torch.no_grad():
        whole = features(glimpses)
        for at in (corners, inside):
            got = features.under(glimpses, at, k)
            expected = torch.stack(
                [whole[i, :, y : y + k, x : x + k] for i, (y, x) in enumerate(at.tolist())]
            )
            torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    # off the CPU the whole glimpse is computed (nothing read back from the device)
    meta = features.to("meta").under(glimpses.to("meta"), inside.to("meta"), k)
    assert meta.shape == (4, features.channels, k, k)


def test_fold_batch_norm_known_answer():
    weight = torch.ones(2, 1, 1, 1)
    norm = {
        "weight": torch.tensor([2.0, 1.0]),
        "bias": torch.tensor([1.0, 0.0]),
        "running_mean": torch.tensor([1.0, -1.0]),
        "running_var": torch.tensor([4.0, 1.0]),
    }
    w, b = fold_batch_norm(weight, None, norm, eps=0.0)
    # channel 0: 2 (x - 1) / 2 + 1 = x; channel 1: (x + 1) / 1 + 0 = x + 1
    torch.testing.assert_close(w.flatten(), torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(b, torch.tensor([0.0, 1.0]))


def test_shapes_gray_input_and_bad_blocks():
    features = DeepFeatures(blocks=4).eval()
    assert features.channels == 24
    gray = torch.rand(1, 1, 30, 30)
    with torch.no_grad():
        torch.testing.assert_close(features(gray), features(gray.expand(-1, 3, -1, -1)))
    for blocks in (0, MAX_BLOCKS + 1):
        with pytest.raises(ValueError, match="blocks"):
            DeepFeatures(blocks=blocks)


def test_missing_weights_name_the_entry():
    with pytest.raises(KeyError, match=r"features\.0\.0\.weight"):
        from_mobilenet_v2(DeepFeatures(blocks=1), {})


def test_config_rejects_deep_score_without_weights_or_matching():
    with pytest.raises(ValueError, match="score_deep"):
        TrackerConfig(match_size=64, score_deep=4)
    with pytest.raises(ValueError, match="score_deep"):
        TrackerConfig(score_deep=4, score_weights=(0.5, 0.5))
    with pytest.raises(ValueError, match="score_weights"):
        TrackerConfig(match_size=64, match_features=16, score_deep=4, score_weights=(0.5, 0.5))
    with pytest.raises(ValueError, match="score_weights"):
        TrackerConfig(match_size=64, score_weights=(1.0, -0.5))
