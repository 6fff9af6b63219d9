"""The tracker's configuration: one frozen dataclass, stored inside checkpoints."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

GRID_GENERATORS = ("stn", "draw")
MATCH_PADDINGS = ("zeros", "none")
RNN_TYPES = ("gru", "lstm")


@dataclass(frozen=True)
class TrackerConfig:
    """Hyperparameters of :class:`RecurrentTracker` (defaults: the Bouncing MNIST model)."""

    # Fields since removed, with the one value they always had: a stored config (an older
    # checkpoint) may hold them at that value; any other value describes a model this code
    # cannot build (see ratrack.checkpoints.config_from_dict).
    REMOVED: ClassVar[dict[str, object]] = {
        "detach_window": True,  # the window chain is always detached between steps
        "recenter": True,  # the localization head always moves the window re-centred on b_t
        "box_from_features": True,  # the tracking head always sees f_t
    }

    in_channels: int = 1  # 1 for MNIST, 3 for RGB video
    glimpse_size: tuple[int, int] = (40, 40)  # (h, w) of the glimpse in pixels
    context: float = 3.0  # window side = context * max(box w, box h)
    grid_generator: str = "stn"  # "stn" (affine bilinear sampling) or "draw" (Gaussian filterbank)
    conv_channels: tuple[int, ...] = (16, 32, 64)  # one 3x3 conv + 2x2 max-pool stage each
    feature_size: int = 256  # conv net output width
    rnn_type: str = "gru"  # "gru" or "lstm"
    hidden_size: int = 256  # RNN state width
    head_hidden: int = 128  # hidden width of the two heads
    pixel_mean: float = 0.0  # glimpses are normalized as (g - mean) / std before the conv net
    pixel_std: float = 1.0
    max_delta_log_scale: float = 0.5  # |dlogw|, |dlogh| per step are squashed below this
    min_window: float = 8.0  # windows never shrink below this side (pixels)
    # > 0: RAM's Gaussian location policy while training: the next window's deltas are drawn
    # around the localization head's output with this std (window sides / log side), and
    # REINFORCE (LossConfig.reinforce) rewards the draws; evaluation always takes the mean.
    location_std: float = 0.0
    # < 1: the box's log width and height follow the tracking head only this share of the way
    # from the previous box's per frame (as correlation-filter trackers learn scale slowly):
    # a small size bias per frame then cannot compound into a box that grows without bound.
    size_rate: float = 1.0
    # > 0: each glimpse is also compared with the first frame's target by normalized
    # cross-correlation of the conv net's feature maps after this many stages (a SiamFC-style
    # response map, see correlation_response); 0: the template vector f_0 is the only comparison.
    correlation_stage: int = 0
    # > 0: template matching at pixel level (SiamFC's scale search, Bertinetto et al. 2016):
    # each step cuts match_size x match_size glimpses around the window's centre, sized by the
    # last box and scaled by each of match_scales, finds the first frame's box-shaped template
    # in them by normalized cross-correlation, and the tracking head refines the matched box
    # (deltas from it) instead of placing a box in the window; 0: off.
    match_size: int = 0
    match_scales: tuple[float, ...] = (1 / 1.05, 1.0, 1.05)
    match_penalty: float = 0.97  # a peak found at a scale other than 1 counts this much
    # > 1: an elongated box (long side at least aspect_elongation times its short side) is also
    # searched at two stretched aspects of the same area: match glimpses match_aspect times
    # wider and as many times shorter, and the reverse; their peaks count aspect_penalty as
    # much, and the box found there takes that aspect. 0: off.
    match_aspect: float = 0.0
    aspect_elongation: float = 1.5
    aspect_penalty: float = 0.99
    # The search region of matching, in windows: the template is looked for at every placement
    # within match_search times the window around the last box (SiamFC's search region).
    match_search: float = 1.0
    # A placement counts only when at least this share of the template lies inside the frame,
    # and its score is the masked NCC times that share: padding outside the frame is never
    # evidence, and a box is never placed mostly outside the frame.
    min_visible: float = 0.5
    # Confidence: an object whose match score (masked NCC times visible share, in [-1, 1]) is
    # below lost_score is lost: the next frame is searched lost_search times wider, until the
    # score recovers. Below hold_score (<= lost_score) the match is no evidence at all and the
    # box stays where it was; between the two the box follows the best match.
    lost_score: float = 0.47
    lost_search: float = 4.0
    # True: the wide search of a lost object looks at the match scale nearest 1 alone (a third
    # of its glimpses); the box keeps its size until the object is found again
    lost_one_scale: bool = False
    # True: a lost object is searched normally too, and the wide search's match replaces the
    # normal one only where it scores more than lost_margin higher (a box still on its object
    # stays there rather than jump to a look-alike)
    lost_compare: bool = False
    lost_margin: float = 0.0
    hold_score: float = 0.45
    # > 0: a confident object (score at least lost_score before and after) whose box centre
    # moves more than jump_check times its long side in one frame is checked by looking back:
    # the patch at the new box is matched in the previous frame, and where it lies more than
    # jump_check of the side from the previous box, the move is refused (it went to something
    # that was elsewhere a frame ago) and the object keeps its previous state for this frame.
    # Needs the previous frame: the online Tracker does it (ratrack.track.online). 0: off.
    jump_check: float = 0.0
    # What a placement near the search glimpse's edge compares the template's overhanging part
    # with: "zeros": the glimpse is search_cells samples wide and zero-padded by half a
    # template ('same'-size correlation, as the original matcher did): a far placement partly
    # scores against zero-valued pixels, an implicit motion prior; "none": no padding, the
    # image itself lies there. Either way samples outside the frame are never evidence, and
    # the score (confidence) is the chosen placement's match against the frame's pixels alone.
    match_padding: str = "zeros"
    # > 0: SiamFC's cosine window: a placement's response is lowered by this much times
    # (1 - hann(x) hann(y)) over the search grid, favouring small moves (not while lost)
    match_window: float = 0.0
    # > 0: the matching template is a memory of the target: each frame, an object matched with
    # a score of at least update_score moves its template this share of the way to the patch
    # it matched (the first frame's template fades at (1 - template_rate) per update).
    template_rate: float = 0.0
    update_score: float = 0.6
    # With template_rate > 0: the template matched is this share of the first frame's template
    # and the rest the memory (each unit-norm), so the first look anchors a drifting memory.
    template_anchor: float = 0.0
    # True: the score is the chosen placement's match with the first frame's template (how
    # much the box still looks like the object as given), not with the template matched.
    score_first: bool = False
    # > 0: learned matching beside the pixel NCC: a small conv net (MatchNet) maps every match
    # glimpse to this many feature channels at the same resolution, the template is matched in
    # them by the same masked NCC, and placements are ranked by
    # (1 - match_blend) * pixel NCC + match_blend * feature NCC (the score likewise).
    match_features: int = 0
    match_blend: float = 0.5
    # > 0: the score also compares ImageNet features of the chosen placement with the first
    # frame's: the first score_deep blocks of MobileNetV2 (model.mobilenet.DeepFeatures), on
    # the chosen match glimpse alone; they never place the box.
    score_deep: int = 0
    # the score's weights of the NCC of pixels, learned features and ImageNet features (the
    # parts present); () weighs pixels and learned features as match_blend places the box
    score_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.in_channels <= 0 or self.feature_size <= 0 or self.hidden_size <= 0:
            raise ValueError(f"TrackerConfig sizes must be positive, got {self}")
        if len(self.glimpse_size) != 2 or min(self.glimpse_size) < 2 ** len(self.conv_channels):
            raise ValueError(
                f"glimpse_size must be (h, w) with both >= 2**len(conv_channels), "
                f"got {self.glimpse_size}"
            )
        if not self.conv_channels or min(self.conv_channels) <= 0 or self.head_hidden <= 0:
            raise ValueError(f"conv_channels and head_hidden must be positive, got {self}")
        if self.grid_generator not in GRID_GENERATORS:
            raise ValueError(
                f"grid_generator must be one of {GRID_GENERATORS}, got {self.grid_generator!r}"
            )
        if self.rnn_type not in RNN_TYPES:
            raise ValueError(f"rnn_type must be one of {RNN_TYPES}, got {self.rnn_type!r}")
        if self.context <= 1.0:
            raise ValueError(f"context must be > 1 (the window holds the box), got {self.context}")
        if self.pixel_std <= 0 or self.max_delta_log_scale <= 0 or self.min_window <= 0:
            raise ValueError("pixel_std, max_delta_log_scale and min_window must be positive")
        if not 0 < self.size_rate <= 1:
            raise ValueError(f"size_rate must be in (0, 1], got {self.size_rate}")
        if self.location_std < 0:
            raise ValueError(f"location_std must be >= 0, got {self.location_std}")
        if not 0 <= self.correlation_stage <= len(self.conv_channels):
            raise ValueError(
                f"correlation_stage must be in [0, {len(self.conv_channels)}], "
                f"got {self.correlation_stage}"
            )
        if self.match_size and (self.match_size < 8 or self.match_size % 2):
            raise ValueError(f"match_size must be 0 or an even side >= 8, got {self.match_size}")
        if not self.match_scales or min(self.match_scales) <= 0:
            raise ValueError(f"match_scales must be positive, got {self.match_scales}")
        if not 0 < self.match_penalty <= 1:
            raise ValueError(f"match_penalty must be in (0, 1], got {self.match_penalty}")
        if not (self.match_aspect == 0 or self.match_aspect > 1) or self.aspect_elongation < 1:
            raise ValueError(
                f"match_aspect must be 0 or > 1 and aspect_elongation >= 1, got "
                f"{self.match_aspect}, {self.aspect_elongation}"
            )
        if not 0 < self.aspect_penalty <= 1 or self.jump_check < 0:
            raise ValueError(
                f"aspect_penalty must be in (0, 1] and jump_check >= 0, got "
                f"{self.aspect_penalty}, {self.jump_check}"
            )
        if self.match_search < 1 or self.lost_search < self.match_search:
            raise ValueError(
                f"match_search must be >= 1 and lost_search >= match_search, got "
                f"{self.match_search}, {self.lost_search}"
            )
        if self.hold_score > self.lost_score:
            raise ValueError(
                f"hold_score must be <= lost_score, got {self.hold_score} > {self.lost_score}"
            )
        if self.match_padding not in MATCH_PADDINGS:
            raise ValueError(
                f"match_padding must be one of {MATCH_PADDINGS}, got {self.match_padding!r}"
            )
        if self.match_features < 0 or not 0 <= self.match_blend <= 1:
            raise ValueError(
                f"match_features must be >= 0 and match_blend in [0, 1], got "
                f"{self.match_features}, {self.match_blend}"
            )
        parts = 1 + (self.match_features > 0) + (self.score_deep > 0)
        if self.score_deep < 0 or (
            self.score_deep and not (self.match_size and self.score_weights)
        ):
            raise ValueError(
                f"score_deep must be >= 0 and needs matching and score_weights, got "
                f"{self.score_deep}, {self.score_weights}"
            )
        if self.score_weights and (len(self.score_weights) != parts or min(self.score_weights) < 0):
            raise ValueError(
                f"score_weights must be {parts} weights >= 0 (pixels, learned, ImageNet "
                f"features present), got {self.score_weights}"
            )
        if not 0 <= self.template_anchor <= 1:
            raise ValueError(f"template_anchor must be in [0, 1], got {self.template_anchor}")
        if not 0 <= self.template_rate <= 1:
            raise ValueError(f"template_rate must be in [0, 1], got {self.template_rate}")
        if not 0 < self.min_visible <= 1:
            raise ValueError(f"min_visible must be in (0, 1], got {self.min_visible}")

    @property
    def correlation_map(self) -> tuple[int, int]:
        """(h, w) of the conv net's feature map that correlation compares (0, 0 when off)."""
        k = self.correlation_stage
        return (self.glimpse_size[0] >> k, self.glimpse_size[1] >> k) if k else (0, 0)

    @property
    def correlation_kernel(self) -> tuple[int, int]:
        """(h, w) of the template's central patch: the box's share of the map, made the same
        parity as the map so the patch sits exactly at its centre (0, 0 when off)."""
        sides = []
        for m in self.correlation_map:
            k = max(1, round(m / self.context)) if m else 0
            sides.append(k + (m - k) % 2)
        return sides[0], sides[1]

    @property
    def unit_scale(self) -> int:
        """Index of the match scale nearest 1 (the last box's own size): the scale a lost
        object's wide search keeps with ``lost_one_scale``, and the one the matcher trains at."""
        return min(range(len(self.match_scales)), key=lambda i: abs(math.log(self.match_scales[i])))

    def match_stretches(self, aspects: bool) -> tuple[tuple[float, float], ...]:
        """``(x, y)`` factors of each match glimpse's sides: each of ``match_scales`` on both,
        then with ``aspects`` the two stretched aspects of ``match_aspect``."""
        pairs = tuple((s, s) for s in self.match_scales)
        if aspects:
            a = self.match_aspect
            pairs += ((a, 1 / a), (1 / a, a))
        return pairs

    def match_discounts(self, aspects: bool) -> tuple[float, ...]:
        """What each glimpse of :meth:`match_stretches` weighs its peak by: 1 at scale 1,
        ``match_penalty`` at the other scales, ``aspect_penalty`` at the stretched aspects."""
        return tuple(
            (1.0 if x == 1 else self.match_penalty) if x == y else self.aspect_penalty
            for x, y in self.match_stretches(aspects)
        )

    @property
    def match_kernel(self) -> int:
        """Side of the square matching template: the box's long side in a match glimpse, made
        even like ``match_size`` (0 when matching is off)."""
        if not self.match_size:
            return 0
        k = max(2, round(self.match_size / self.context))
        return k + k % 2

    def search_cells(self, wide: bool) -> int:
        """Side of the grid of template placements a match glimpse is scored at: ``match_size``
        times ``match_search`` (``lost_search`` when ``wide``), even; the glimpse itself is one
        template side larger, so that every placement lies wholly inside it."""
        factor = self.lost_search if wide else self.match_search
        return 2 * round(self.match_size * factor / 2)

    @property
    def correlation_size(self) -> int:
        """Width of the comparison features: the response map, its soft-argmax and its peak;
        with matching on, 4 more (the match's displacement, peak and log scale)."""
        size = 4 if self.match_size else 0
        if not self.correlation_stage:
            return size
        (h, w), (kh, kw) = self.correlation_map, self.correlation_kernel
        return size + (h + 1 - kh % 2) * (w + 1 - kw % 2) + 3
