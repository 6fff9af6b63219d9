"""The box lifecycle of multi-object tracking: pure functions on column-wise track state.

:func:`step_tracks` advances the tracks of one class into frame ``t`` given its detections
(``xyxy`` boxes, scores); :class:`~ratrack.track.multi.MultiTracker` runs it per class, with or
without frames. Per frame:

1. every track's box filter (:mod:`ratrack.track.motion`) predicts its box; detections scoring
   below ``min_score`` are dropped;
2. **stage 1** (ByteTrack): every track against the confident detections (``>= high_score``),
   maximum-total-IoU assignment of pairs with IoU ``>= iou_threshold``; a second prediction of
   each box (``cues``, the recurrent tracker's) counts too: the larger IoU of the two. The IoU of
   a prediction (or, in stage 3, a last observation) and a detection is :func:`match_iou`:
   optionally of grown boxes (``match_expand``) and height-modulated (``height_iou``); with
   ``direction_weight`` a pair's score also rewards a detection lying the way its track moves
   (OC-SORT's velocity direction consistency, :func:`direction_consistency`). With
   ``confirmed_first`` (as ByteTrack orders its stages) the confirmed tracks are assigned first
   and the tentative ones only to the detections left, so a track born from a duplicate or a
   false detection cannot take the detection of an established one;
3. optionally (``camera_shift``) the tracks left have their predictions moved by the median
   residual of the stage-1 matches (the whole image moves when the camera turns);
4. **stage 2**: confirmed tracks left against the low-score detections (IoU
   ``>= low_iou_threshold``);
5. **stage 3** (OC-SORT's observation-centric recovery): tracks left, by their last observed
   box, against the confident detections left (IoU ``>= recover_iou``);
6. matched tracks update their filter (with ``motion.score_noise`` a detection's noise shrinks
   with its score, StrongSORT's NSA); one matched after a gap restarts its velocity from the
   two observations (``observation_restart``, OC-SORT's re-update);
7. a track is confirmed by its ``min_hits``-th match; a tentative track ends after more than
   ``tentative_misses`` consecutive misses, a confirmed one after more than ``max_misses``;
8. confident detections left (``>= birth_score``) start tentative tracks (confirmed at once
   when ``min_hits`` is 1).

Output policy: a frame reports its confirmed tracks that matched (at the detection's box, or
the filter's with ``report_box="filtered"``) and those unmatched for at most ``report_coast``
frames (at the prediction). Rows can also reach back (:attr:`Step.backfill`): the tentative
frames of a track confirmed now (``backfill``), and the frames a confirmed track missed when it
is matched again within ``fill_gaps`` frames (on the line between the two observations). With
``smooth_size`` the rows' widths and heights (with ``smooth_centre`` also their centres) are
smoothed over time as frames are written (:class:`~ratrack.track.multi.DelayedFrames`).

State (:class:`Tracks`) is explicit and column-wise: one ``(K, 5)`` int table, the ``(K, 5,
4)`` filters and the ``(K, 5)`` last observations; no per-track objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ratrack.errors import ConfigError, check_number
from ratrack.track import motion as km
from ratrack.track.motion import POS, VEL, MotionConfig

REPORT_BOXES = ("detection", "filtered")


@dataclass(frozen=True)
class MultiTrackConfig:
    """Thresholds and output policy of the track lifecycle (module docstring). The defaults
    are the dashcam car settings chosen on KITTI sequences 0000-0010 (``tools/tune_mot.py``)."""

    min_score: float = 0.1  # detections scoring below this are ignored
    high_score: float = 0.4  # detections at least this confident are matched in the first stage
    birth_score: float = 0.4  # min score of an unmatched detection to start a track
    iou_threshold: float = 0.1  # min IoU of a predicted box and a detection (first stage)
    low_iou_threshold: float = 0.5  # min IoU in the second stage (low-score detections)
    recover_iou: float = 0.3  # min IoU of a lost track's last observed box (third stage; 0: off)
    birth_iou: float = 1.0  # a detection overlapping a live track this much starts nothing
    match_expand: float = 0.0  # boxes grow by this fraction of their size on each side to match
    height_iou: bool = False  # matching IoU times the IoU of the vertical extents (HMIoU)
    direction_weight: float = 0.0  # weight of OC-SORT's direction consistency in stage 1 (0: off)
    min_hits: int = 3  # matched frames that confirm a track (1: confirmed at birth)
    max_misses: int = 20  # consecutive unmatched frames a confirmed track survives
    tentative_misses: int = 0  # consecutive unmatched frames a tentative track survives
    report_coast: int = 0  # frames a confirmed unmatched track is reported at its prediction
    report_box: str = "detection"  # matched tracks report the detection's or the filter's box
    backfill: bool = True  # a track's tentative frames are reported when it is confirmed
    fill_gaps: int = 5  # a track found again after missing up to this many frames reports them
    # reported widths and heights from a line fitted to the track's frames within two sigmas
    # (Gaussian weights, sigma in frames; 0: off), as frames are written (multi.DelayedFrames)
    smooth_size: float = 0.0
    smooth_centre: bool = False  # with smooth_size, the centres too
    camera_shift: bool = False  # shift unmatched predictions by the median first-stage residual
    confirmed_first: bool = False  # stage 1 assigns confirmed tracks before tentative ones
    observation_restart: bool = True  # a track matched after a gap restarts its velocity
    motion: MotionConfig = field(default_factory=MotionConfig)

    def __post_init__(self) -> None:
        for name in ("min_score", "high_score", "birth_score"):
            check_number(name, getattr(self, name), low=0, high=1)
        for name in ("iou_threshold", "low_iou_threshold", "birth_iou"):
            check_number(name, getattr(self, name), low=0, high=1, low_open=True)
        check_number("recover_iou", self.recover_iou, low=0, high=1)
        if self.min_score > self.high_score:
            raise ConfigError(
                "min_score", f"must be <= high_score ({self.high_score}), got {self.min_score}"
            )
        if self.high_score > self.birth_score:
            raise ConfigError(
                "high_score", f"must be <= birth_score ({self.birth_score}), got {self.high_score}"
            )
        check_number("match_expand", self.match_expand, low=0)
        check_number("smooth_size", self.smooth_size, low=0)
        check_number("direction_weight", self.direction_weight, low=0)
        for name in ("max_misses", "tentative_misses", "report_coast", "fill_gaps"):
            check_number(name, getattr(self, name), low=0, integer=True)
        check_number("min_hits", self.min_hits, low=1, integer=True)
        if self.report_box not in REPORT_BOXES:
            raise ValueError(f"report_box must be one of {REPORT_BOXES}, got {self.report_box!r}")


class Rows(NamedTuple):
    """Reported boxes, one row each: ``frame``, ``ids`` ``(R,)`` int64, ``boxes`` ``(R, 4)``
    xyxy, ``scores`` ``(R,)``, ``labels`` ``(R,)`` int64 class codes (0: none)."""

    frame: np.ndarray
    ids: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def select(self, rows: np.ndarray) -> Rows:
        return Rows(*(f[rows] for f in self))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


NO_ROWS = Rows(
    _frozen(np.zeros(0, np.int64)),
    _frozen(np.zeros(0, np.int64)),
    _frozen(np.zeros((0, 4))),
    _frozen(np.zeros(0)),
    _frozen(np.zeros(0, np.int64)),
)


def concat_rows(parts: list[Rows]) -> Rows:
    parts = [p for p in parts if len(p.ids)]
    if len(parts) <= 1:
        return parts[0] if parts else NO_ROWS
    return Rows(*(np.concatenate(cols) for cols in zip(*parts, strict=True)))


ID, LABEL, SEEN, HITS, MISSES = range(5)
"""Columns of ``Tracks.info``: public id, class code (0: none yet), frame of the last
observation, frames matched so far, consecutive frames unmatched."""


class Tracks(NamedTuple):
    """Column-wise state of ``K`` live tracks and the lifecycle's bookkeeping."""

    info: np.ndarray  # (K, 5) int64, columns ID, LABEL, SEEN, HITS, MISSES
    kf: np.ndarray  # (K, 5, 4) box filters (ratrack.track.motion)
    last: np.ndarray  # (K, 5) last observed (matched) box xyxy and its score
    pending: Rows  # matched rows of tentative tracks, reported if they are confirmed
    next_id: int  # id of the next new track

    @property
    def ids(self) -> np.ndarray:
        return self.info[:, ID]

    def confirmed(self, config: MultiTrackConfig) -> np.ndarray:
        """``(K,)`` bool: matched in at least ``min_hits`` frames."""
        return self.info[:, HITS] >= config.min_hits


def init_tracks(first_id: int = 1) -> Tracks:
    """No tracks; the first new one gets ``first_id``."""
    return Tracks(
        info=np.zeros((0, 5), np.int64),
        kf=np.zeros((0, 5, 4)),
        last=np.zeros((0, 5)),
        pending=NO_ROWS,
        next_id=int(first_id),
    )


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(K, N)`` IoU of xyxy boxes ``a`` ``(K, 4)`` and ``b`` ``(N, 4)`` (0 for empty unions)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(rb - lt, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b - inter, 1e-12)


def _member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(A,)`` bool: which of the ids ``a`` are among ``b`` (small arrays: one comparison)."""
    return (a[:, None] == b[None, :]).any(1)


def _expand(boxes: np.ndarray, fraction: float) -> np.ndarray:
    """``(K, 4)`` xyxy ``boxes`` grown by ``fraction`` of their width / height on each side."""
    pad = (boxes[:, 2:] - boxes[:, :2]) * fraction  # (K, 2)
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1)


def height_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(K, N)`` IoU of the vertical extents ``[y1, y2]`` of xyxy boxes ``a`` ``(K, 4)`` and
    ``b`` ``(N, 4)`` (0 for empty unions)."""
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    bottom = np.minimum(a[:, None, 3], b[None, :, 3])
    span = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    return np.maximum(bottom - top, 0.0) / np.maximum(span, 1e-12)


def match_iou(a: np.ndarray, b: np.ndarray, config: MultiTrackConfig) -> np.ndarray:
    """``(K, N)`` similarity that the association stages threshold and maximize, of xyxy boxes
    ``a`` ``(K, 4)`` (tracks) and ``b`` ``(N, 4)`` (detections): the IoU of the boxes grown by
    ``match_expand`` (buffered IoU, Yang et al., C-BIoU: tolerates the jumps of small,
    irregularly moving objects), with ``height_iou`` times the IoU of their vertical extents
    (height-modulated IoU, Hybrid-SORT, Yang et al. 2024, sec. 3.2: of two overlapping people
    the one nearer the camera reaches lower in the image and is taller, so neighbours at other
    depths score less)."""
    if config.match_expand:
        a, b = _expand(a, config.match_expand), _expand(b, config.match_expand)
    iou = iou_matrix(a, b)
    if config.height_iou:
        iou *= height_iou_matrix(a, b)
    return iou


def direction_consistency(velocity: np.ndarray, last: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """``(K, N)`` in ``[-1/2, 1/2]``: ``(pi/2 - angle) / pi`` with ``angle`` between a track's
    motion (the centre velocity of its filter, ``velocity`` ``(K, 4)`` per xyxy coordinate) and
    the way from its last observed box ``last`` ``(K, 4)`` to each detection ``boxes`` ``(N, 4)``
    (OC-SORT's velocity direction consistency, Cao et al. 2023, eq. 5; the filter's velocity
    stands for the direction between two observations). 0 where either way has no length."""
    v = (velocity[:, :2] + velocity[:, 2:]) / 2  # (K, 2) centre velocity
    centre, seen = (boxes[:, :2] + boxes[:, 2:]) / 2, (last[:, :2] + last[:, 2:]) / 2
    way = centre[None] - seen[:, None]  # (K, N, 2)
    norm = np.linalg.norm(v, axis=1)[:, None] * np.linalg.norm(way, axis=2)  # (K, N)
    dot = np.einsum("kc,knc->kn", v, way)
    cos = np.clip(dot / np.maximum(norm, 1e-12), -1.0, 1.0)
    return np.where(norm > 1e-12, (np.pi / 2 - np.arccos(cos)) / np.pi, 0.0)


def assign(
    iou: np.ndarray, threshold: float, bonus: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-total-score pairs of ``iou`` ``(K, N)`` with IoU >= ``threshold``: ``(rows,
    cols)``; the score of a pair is its IoU plus ``bonus`` ``(K, N)`` (kept above 0, so the
    bonus never forbids a pair the threshold allows)."""
    score = np.where(iou >= threshold, iou, 0.0)
    if bonus is not None:
        score = np.where(score > 0, np.maximum(score + bonus, 1e-9), 0.0)
    rows, cols = linear_sum_assignment(score, maximize=True)
    keep = score[rows, cols] > 0
    return rows[keep], cols[keep]


class Step(NamedTuple):
    """What one frame reports: ``rows`` of this frame (sorted by id), ``matched`` ``(R,)``
    bool per row, ``backfill`` rows of earlier frames (the tentative frames of the tracks
    confirmed in this frame) and the ``ended`` ids."""

    rows: Rows
    matched: np.ndarray
    backfill: Rows
    ended: np.ndarray


_NOTHING = Step(NO_ROWS, _frozen(np.zeros(0, bool)), NO_ROWS, _frozen(np.zeros(0, np.int64)))


def step_tracks(
    tracks: Tracks,
    t: int,
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    config: MultiTrackConfig = MultiTrackConfig(),
    cues: np.ndarray | None = None,
) -> tuple[Tracks, Step]:
    """Advance ``tracks`` into frame ``t`` with its detections ``boxes`` ``(N, 4)`` xyxy,
    ``scores`` ``(N,)`` and class codes ``labels`` ``(N,)``. ``cues`` ``(K, 4)``: another
    prediction of each track's box (the recurrent tracker's), matched beside the motion's."""
    cfg = config
    if len(scores) and cfg.min_score > 0:
        keep = scores >= cfg.min_score
        if not keep.all():
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    k, n = len(tracks.info), len(boxes)
    if k == 0 and n == 0:
        return tracks, _NOTHING
    info = tracks.info.copy()
    kf = km.predict(tracks.kf, cfg.motion) if k else tracks.kf
    pred = km.valid_boxes(kf[:, POS], cfg.motion.min_size)  # (K, 4)
    det_of = np.full(k, -1, np.int64)  # matched detection of each track
    taken = np.zeros(n, bool)
    high = scores >= cfg.high_score
    confirmed = info[:, HITS] >= cfg.min_hits
    if k and n:
        iou = match_iou(pred, boxes, cfg)  # (K, N)
        compat = None
        if info[:, LABEL].any() and labels.any():  # classes that may match: same, or no class
            a, b = info[:, LABEL, None], labels[None, :]
            compat = (a == b) | (a == 0) | (b == 0)  # (K, N)
            iou *= compat
        if cues is not None:
            cue_iou = np.nan_to_num(iou_matrix(cues, boxes))
            iou = np.maximum(iou, cue_iou if compat is None else cue_iou * compat)
        # stage 1: every track against the confident detections; with confirmed_first the
        # confirmed tracks choose first, the tentative ones among the detections left
        hi = high.nonzero()[0]
        if len(hi):
            if cfg.confirmed_first and confirmed.any() and not confirmed.all():
                groups = [confirmed.nonzero()[0], (~confirmed).nonzero()[0]]
            else:
                groups = [np.arange(k)]
            for g in groups:
                d = hi[~taken[hi]]
                if len(d):
                    bonus = None
                    if cfg.direction_weight:  # OC-SORT's OCM, weighted by the detection score
                        way = direction_consistency(kf[g, VEL], tracks.last[g, :4], boxes[d])
                        bonus = cfg.direction_weight * scores[d] * way
                    r, c = assign(iou[g[:, None], d], cfg.iou_threshold, bonus)
                    det_of[g[r]] = d[c]
                    taken[d[c]] = True
            # the camera moved: shift the predictions of the tracks left by the median residual
            # of the matches, before they meet the detections left
            if cfg.camera_shift and not taken.all():
                m, free = (det_of >= 0).nonzero()[0], (det_of < 0).nonzero()[0]
                if len(m) >= 2 and len(free):
                    residual = np.sort(boxes[det_of[m]] - pred[m], axis=0)  # (M, 4)
                    shift = residual[len(m) // 2]  # the upper median
                    moved = match_iou(pred[free] + shift, boxes, cfg)
                    iou[free] = moved if compat is None else moved * compat[free]
        # stage 2: confirmed tracks left against the low-score detections
        lo = (~high).nonzero()[0]
        if len(lo):
            u = ((det_of < 0) & confirmed).nonzero()[0]
            if len(u):
                r, c = assign(iou[u[:, None], lo], cfg.low_iou_threshold)
                det_of[u[r]] = lo[c]
                taken[lo[c]] = True
        # stage 3: tracks left, by their last observed box, against confident detections left
        if cfg.recover_iou > 0:
            u = (det_of < 0).nonzero()[0]
            d = (high & ~taken).nonzero()[0]
            if len(u) and len(d):
                last = match_iou(tracks.last[u, :4], boxes[d], cfg)
                if compat is not None:
                    last *= compat[u[:, None], d]
                r, c = assign(last, cfg.recover_iou)
                det_of[u[r]] = d[c]
                taken[d[c]] = True
    matched = det_of >= 0
    rows = matched.nonzero()[0]
    last = tracks.last
    filled = NO_ROWS
    if len(rows):
        cols = det_of[rows]
        z = boxes[cols]
        if cfg.fill_gaps and (info[rows, MISSES] > cfg.report_coast).any():
            filled = _fill_gaps(info[rows], last[rows, :4], z, t, confirmed[rows], cfg)
        z_all = np.zeros((k, 4))
        z_all[rows] = z
        late = np.zeros(k, bool)
        if cfg.observation_restart:
            late[rows] = t - info[rows, SEEN] > 1
        s_all = None
        if cfg.motion.score_noise:
            s_all = np.zeros(k)
            s_all[rows] = scores[cols]
        kf = km.update(kf, matched & ~late, z_all, cfg.motion, s_all)
        if late.any():
            r = late.nonzero()[0]
            vel = (z_all[r] - last[r, :4]) / (t - info[r, SEEN])[:, None]
            kf = km.restart(kf, r, z_all[r], vel, cfg.motion)
        last = last.copy()
        last[rows, :4] = z
        last[rows, 4] = scores[cols]
        info[rows, SEEN] = t
        info[rows, HITS] += 1
        if labels.any():
            lab = info[rows, LABEL]
            info[rows, LABEL] = np.where(lab == 0, labels[cols], lab)
    info[:, MISSES] = np.where(matched, 0, info[:, MISSES] + 1)
    now_confirmed = info[:, HITS] >= cfg.min_hits
    misses = info[:, MISSES]
    alive = misses <= np.where(now_confirmed, cfg.max_misses, cfg.tentative_misses)

    # births: confident detections left, not on top of a live track
    born = ~taken & (scores >= cfg.birth_score)
    if cfg.birth_iou < 1.0 and born.any() and alive.any():
        overlap = iou_matrix(boxes[born], pred[alive]).max(1)
        born[np.flatnonzero(born)[overlap >= cfg.birth_iou]] = False
    nb = int(np.count_nonzero(born))
    new_confirmed = cfg.min_hits <= 1

    # this frame's rows: confirmed tracks matched, or coasting within report_coast
    report = alive & now_confirmed & (matched | (misses <= cfg.report_coast))
    row_matched = matched[report]
    out_box = (pred if cues is None else np.where(np.isfinite(cues), cues, pred))[report]
    if cfg.report_box == "detection":
        out_box[row_matched] = last[report & matched, :4]
    else:
        out_box[row_matched] = kf[report & matched, POS]
    frame_rows = Rows(
        frame=np.full(len(out_box), t, np.int64),
        ids=info[report, ID],
        boxes=out_box,
        scores=last[report, 4],
        labels=info[report, LABEL],
    )

    if nb:
        new_ids = np.arange(tracks.next_id, tracks.next_id + nb, dtype=np.int64)
        births = Rows(np.full(nb, t, np.int64), new_ids, boxes[born], scores[born], labels[born])
        if new_confirmed:
            frame_rows = concat_rows([frame_rows, births])
            row_matched = np.concatenate([row_matched, np.ones(nb, bool)])

    # tentative rows wait in `pending`; confirmation releases them as backfill
    pending, backfill = tracks.pending, filled
    if cfg.backfill and not new_confirmed:
        if len(pending.ids):
            now = now_confirmed & ~confirmed
            if now.any():
                out = _member(pending.ids, info[now, ID])
                backfill = concat_rows([backfill, pending.select(out)])
                pending = pending.select(~out)
            dead = ~alive & ~now_confirmed
            if dead.any():
                pending = pending.select(~_member(pending.ids, info[dead, ID]))
        tent = matched & ~now_confirmed & alive
        parts = [pending]
        if tent.any():
            parts.append(
                Rows(
                    np.full(int(tent.sum()), t, np.int64),
                    info[tent, ID],
                    last[tent, :4],
                    last[tent, 4],
                    info[tent, LABEL],
                )
            )
        if nb:
            parts.append(births)
        pending = concat_rows(parts)

    ended = info[~alive, ID]
    if not alive.all():
        info, kf, last = info[alive], kf[alive], last[alive]
    if nb:
        new_info = np.zeros((nb, 5), np.int64)
        new_info[:, ID] = new_ids
        new_info[:, LABEL] = labels[born]
        new_info[:, SEEN] = t
        new_info[:, HITS] = 1
        info = np.concatenate([info, new_info])
        kf = np.concatenate([kf, km.init_motion(boxes[born], cfg.motion)])
        last = np.concatenate([last, np.concatenate([boxes[born], scores[born, None]], 1)])
    state = Tracks(info, kf, last, pending, tracks.next_id + nb)
    return state, Step(frame_rows, row_matched, backfill, ended)


def _fill_gaps(
    info: np.ndarray, last: np.ndarray, z: np.ndarray, t: int, confirmed: np.ndarray, cfg
) -> Rows:
    """Rows for the frames that matched confirmed tracks (``info`` ``(M, 5)``, last observed
    boxes ``last`` ``(M, 4)``, matched now at ``z`` ``(M, 4)``) missed, if at most
    ``cfg.fill_gaps``: boxes on the line from the last observation to this one (frames already
    reported while coasting are left out)."""
    gap = t - info[:, SEEN]  # (M,)
    sel = np.flatnonzero(confirmed & (gap > 1) & (gap - 1 <= cfg.fill_gaps))
    if not len(sel):
        return NO_ROWS
    missing = gap[sel] - 1
    row = np.repeat(sel, missing)  # one entry per missed frame
    step = np.arange(len(row)) - np.repeat(np.cumsum(missing) - missing, missing) + 1
    keep = step > cfg.report_coast  # frames reported at the prediction already
    row, step = row[keep], step[keep]
    frac = (step / gap[row])[:, None]
    return Rows(
        frame=info[row, SEEN] + step,
        ids=info[row, ID],
        boxes=last[row] + frac * (z[row] - last[row]),
        scores=np.zeros(len(row)),
        labels=info[row, LABEL],
    )


def start_tracks(
    tracks: Tracks,
    t: int,
    boxes: np.ndarray,
    ids: np.ndarray,
    labels: np.ndarray,
    config: MultiTrackConfig = MultiTrackConfig(),
) -> Tracks:
    """``tracks`` with confirmed tracks started at ``boxes`` ``(M, 4)`` in frame ``t``, with
    the caller's ``ids`` ``(M,)`` and class codes ``labels`` ``(M,)`` (given objects, e.g.
    ``--init``: no detection confirms them, they are confirmed from the start)."""
    m = len(boxes)
    info = np.zeros((m, 5), np.int64)
    info[:, ID] = ids
    info[:, LABEL] = labels
    info[:, SEEN] = t
    info[:, HITS] = config.min_hits
    last = np.concatenate([boxes, np.ones((m, 1))], 1)
    return Tracks(
        info=np.concatenate([tracks.info, info]),
        kf=np.concatenate([tracks.kf, km.init_motion(boxes, config.motion)]),
        last=np.concatenate([tracks.last, last]),
        pending=tracks.pending,
        next_id=max(tracks.next_id, int(ids.max()) + 1 if m else 0),
    )


def remove_tracks(tracks: Tracks, ids: np.ndarray) -> Tracks:
    """``tracks`` without the tracks ``ids`` (and their pending rows)."""
    keep = ~np.isin(tracks.info[:, ID], ids)
    out = Tracks(
        tracks.info[keep], tracks.kf[keep], tracks.last[keep], tracks.pending, tracks.next_id
    )
    pending = out.pending
    if len(pending.ids):
        out = out._replace(pending=pending.select(~np.isin(pending.ids, ids)))
    return out
