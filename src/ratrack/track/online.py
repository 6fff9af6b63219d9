"""Online tracking over a stream of frames: :class:`Tracker` (``init`` / ``update``).

The model is stateless; :class:`Tracker` holds the stream's state (one
:class:`~ratrack.model.tracker.TrackerState` row per live object) and the objects' ids. All live
objects move through one batched :meth:`RecurrentTracker.step` per frame; objects can be added
(:meth:`Tracker.add`) and removed (:meth:`Tracker.remove`) between frames. After each
:meth:`Tracker.update`, :attr:`Tracker.scores` holds every object's confidence and
:attr:`Tracker.lost` which objects scored below the model's ``lost_score`` (a wider region is
searched for them; below ``hold_score`` their boxes stay where they were last found).

Only the part of a numpy frame that the step's windows read is converted to a tensor; it
travels as a :class:`~ratrack.model.glimpse.Frame` with its origin, and boxes and windows stay
in full-frame pixels throughout, so the cost of an update does not grow with the frame.

Frames are ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 gray numpy arrays, or ``(C, H, W)``
float tensors in ``[0, 1]``. A model trained on gray frames (Bouncing MNIST) sees RGB input as
luminance; a model trained on RGB sees gray input repeated over three channels.

With the model's ``jump_check`` on, an update also checks each confident object's large moves
by looking back into the previous frame (forward-backward error, as in MedianFlow and TLD):
a move whose new box's patch, matched in the previous frame, lies far from where the object
was is refused, and the object keeps its previous state for that frame. The tracker keeps a
copy of the last frame for it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ratrack.boxes import BOX_FORMATS, check_boxes, convert_boxes
from ratrack.checkpoints import load_tracker
from ratrack.devices import keep_freed_memory
from ratrack.errors import DataError, RatrackError
from ratrack.model.glimpse import Frame
from ratrack.model.tracker import RecurrentTracker, TrackerState

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
PRETRAINED = ("bmnist", "natural")
_LUMA = (0.299, 0.587, 0.114)
_REGION_MARGIN = 2  # pixels around the windows that bilinear sampling may read


def pretrained_path(name: str) -> Path:
    """Path of a shipped checkpoint (``"bmnist"`` or ``"natural"``)."""
    if name not in PRETRAINED:
        raise ValueError(f"unknown pretrained tracker {name!r}; expected one of {PRETRAINED}")
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.is_file():
        raise RatrackError(f"{path}: the {name!r} weights are not installed")
    return path


def _concat_states(a: TrackerState, b: TrackerState) -> TrackerState:
    return TrackerState(*(torch.cat((x, y), 0) for x, y in zip(a, b, strict=True)))


def glimpse_region(windows: Tensor, height: int, width: int) -> tuple[int, int, int, int] | None:
    """``(x0, y0, x1, y1)``: the pixels of a ``height x width`` frame that glimpses at xyxy
    ``windows`` ``(N, 4)`` read (their union widened by the bilinear footprint, clipped to the
    frame), or None when that is the whole frame or nothing of it. Windows that are not finite
    (a track whose box diverged) read nothing."""
    w = windows.detach().cpu()  # (N, 4)
    w = w[torch.isfinite(w).all(1)]
    if not len(w):
        return None
    x0 = max(0, math.floor(float(w[:, 0].min())) - _REGION_MARGIN)
    y0 = max(0, math.floor(float(w[:, 1].min())) - _REGION_MARGIN)
    x1 = min(width, math.ceil(float(w[:, 2].max())) + _REGION_MARGIN)
    y1 = min(height, math.ceil(float(w[:, 3].max())) + _REGION_MARGIN)
    if x1 <= x0 or y1 <= y0 or (x1 - x0, y1 - y0) == (width, height):
        return None
    return x0, y0, x1, y1


class Tracker:
    """Track any number of objects through a stream with a :class:`RecurrentTracker`.

    ``Tracker(model=...)`` wraps a model; :meth:`from_pretrained` loads shipped weights or a
    checkpoint. Boxes cross this API in ``fmt`` (see :data:`ratrack.boxes.BOX_FORMATS`; default
    ``"xywh"``, 0-based pixels) and are ``xyxy`` inside.
    """

    def __init__(self, *, model: RecurrentTracker, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        if self.device.type == "cpu":
            keep_freed_memory()  # no page faults for each frame's tensors (see there)
        self.fmt = "xywh"
        self._state: TrackerState | None = None
        self._ids: list[int] = []
        self._next_id = 0
        self._windows = torch.zeros(0, 4)
        self._frame_shape: tuple | None = None  # the stream's frame kind, set by init
        self._previous: np.ndarray | Tensor | None = None  # the last frame, for jump_check

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path, *, device: str | torch.device = "cpu"
    ) -> Tracker:
        """Load ``"bmnist"``, ``"natural"`` or a tracker checkpoint path."""
        path = Path(name_or_path)
        if str(name_or_path) in PRETRAINED and not path.exists():
            path = pretrained_path(str(name_or_path))
        model, _ = load_tracker(path, map_location=device)
        return cls(model=model, device=device)

    # -- properties ------------------------------------------------------------------------
    @property
    def ids(self) -> list[int]:
        """Ids of the live objects, in the row order of :meth:`update`'s output."""
        return list(self._ids)

    @property
    def windows(self) -> np.ndarray:
        """``(N, 4)`` xyxy windows the last :meth:`update` looked through (for drawing)."""
        return self._windows.numpy().copy()

    @property
    def scores(self) -> np.ndarray:
        """``(N,)`` float confidence of each live object after the last :meth:`update` (1 for
        an object just added): the template match's score in ``[-1, 1]``."""
        if self._state is None:
            return np.zeros(0, dtype=np.float32)
        return self._state.score.cpu().numpy().copy()

    @property
    def lost(self) -> np.ndarray:
        """``(N,)`` bool: objects whose score is below the model's ``lost_score``."""
        return self.scores < self.model.config.lost_score

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """``(H, W)`` of the frames this stream tracks (set by :meth:`init`)."""
        return None if self._frame_shape is None else self._frame_shape[1:3]

    # -- input conversion ------------------------------------------------------------------
    def frame_tensor(self, frame: np.ndarray | Tensor) -> Tensor:
        """A frame as ``(1, C, H, W)`` float on the model's device, ``C`` the model's channels."""
        if isinstance(frame, np.ndarray):
            if (
                frame.dtype != np.uint8
                or frame.ndim not in (2, 3)
                or (frame.ndim == 3 and frame.shape[2] != 3)
            ):
                raise ValueError(
                    f"numpy frames must be uint8 (H, W, 3) RGB or (H, W) gray, got {frame.dtype} "
                    f"{frame.shape}"
                )
            if any(stride < 0 for stride in frame.strides):  # torch takes positive strides only
                frame = np.ascontiguousarray(frame)
            u8 = torch.from_numpy(frame).to(self.device)  # uint8 moves (a crop: strided, no copy)
            if u8.dim() == 3 and self.model.config.in_channels == 1:
                # RGB -> luminance in one pass over the frame (the general path below makes
                # three: scale, weight, sum over a strided channel axis)
                luma = torch.tensor(_LUMA, device=u8.device) / 255
                return (u8.to(torch.float32).contiguous() @ luma)[None, None]  # (1, 1, H, W)
            x = u8.to(torch.float32).div_(255)  # one float copy, scaled in place
            x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)  # (C, H, W)
        elif isinstance(frame, Tensor):
            if frame.dim() != 3 or frame.shape[0] not in (1, 3) or not frame.is_floating_point():
                raise ValueError(
                    f"tensor frames must be float (C, H, W), C in (1, 3), got {frame.shape}"
                )
            x = frame.to(self.device, torch.float32)
        else:
            raise TypeError(f"frame must be a numpy array or a tensor, got {type(frame).__name__}")
        want = self.model.config.in_channels
        if x.shape[0] == 3 and want == 1:
            luma = torch.tensor(_LUMA, device=x.device, dtype=x.dtype)
            x = (x * luma[:, None, None]).sum(0, keepdim=True)
        elif x.shape[0] == 1 and want == 3:
            x = x.expand(3, -1, -1)
        return x[None]  # (1, C, H, W)

    def _frame(self, frame: np.ndarray | Tensor, windows: Tensor) -> Frame:
        """The part of ``frame`` that glimpses at xyxy ``windows`` ``(N, 4)`` read, as a
        :class:`Frame` on the model's device (the whole frame with the DRAW grid generator,
        whose filters span the frame). Every frame reaching the model passes here, and
        :meth:`_check_frame` first."""
        if not isinstance(frame, np.ndarray | Tensor):
            raise TypeError(f"frame must be a numpy array or a tensor, got {type(frame).__name__}")
        self._check_frame(frame)
        is_numpy = isinstance(frame, np.ndarray)
        H, W = frame.shape[:2] if is_numpy else frame.shape[-2:]
        region = None
        if self.model.config.grid_generator == "stn":
            region = glimpse_region(windows, H, W)
        if region is None:
            x0 = y0 = 0
            crop = frame
        else:
            x0, y0, x1, y1 = region
            crop = frame[y0:y1, x0:x1] if is_numpy else frame[..., y0:y1, x0:x1]
        pixels = self.frame_tensor(crop)
        # NaN and infinity reach the extremes, found in one pass without a mask (a tenth of
        # isfinite().all()'s time)
        if not is_numpy and not bool(torch.isfinite(torch.stack(torch.aminmax(pixels))).all()):
            raise DataError("frame holds NaN or infinite pixels where the objects are looked for")
        return Frame(pixels, (x0, y0), (H, W))

    def _boxes_xyxy(self, boxes, fmt: str, frame_size: tuple[int, int]) -> Tensor:
        """``boxes`` in ``fmt`` as ``(N, 4)`` xyxy; a box that is not finite, has no area or
        lies wholly outside the ``(H, W)`` frame raises ``ValueError`` naming it."""
        if fmt not in BOX_FORMATS:
            raise ValueError(
                f"unknown box format {fmt!r}; expected one of {', '.join(BOX_FORMATS)}"
            )
        given = np.asarray(boxes, dtype=np.float64)
        if given.ndim == 1:
            given = given[None]
        if given.ndim != 2 or given.shape[1] != 4:
            raise ValueError(f"boxes must be (N, 4), got {tuple(given.shape)}")
        b = convert_boxes(torch.as_tensor(given, dtype=torch.float32), fmt, "xyxy")
        H, W = frame_size
        for row, (x1, y1, x2, y2) in zip(given, b.tolist(), strict=True):
            shown = ", ".join(f"{v:g}" for v in row)
            if not np.isfinite(row).all():
                raise ValueError(f"box ({shown}) in {fmt} is not finite")
            if not (x2 > x1 and y2 > y1):
                raise ValueError(f"box ({shown}) in {fmt} has no area")
            if x2 <= 0 or y2 <= 0 or x1 >= W or y1 >= H:
                raise ValueError(f"box ({shown}) in {fmt} lies outside the {W}x{H} frame")
        check_boxes(b)
        return b.to(self.device)

    @staticmethod
    def _size_of(frame: np.ndarray | Tensor) -> tuple[int, int]:
        return tuple(frame.shape[:2] if isinstance(frame, np.ndarray) else frame.shape[-2:])

    # -- lifecycle -------------------------------------------------------------------------
    @torch.inference_mode()
    def init(self, frame: np.ndarray | Tensor, boxes, fmt: str = "xywh", ids=None) -> list[int]:
        """Forget every object and start tracking ``boxes`` (``(N, 4)`` in ``fmt``) in ``frame``.

        ``fmt`` becomes the format of :meth:`update`'s output; ``ids`` as in :meth:`add`.
        Returns the new objects' ids.
        """
        self._state, self._ids = None, []
        self._windows = torch.zeros(0, 4)
        self.fmt = fmt
        self._frame_shape = None  # a new stream: its first frame sets the kind
        self._frame_shape = self._check_frame(frame)
        return self.add(frame, boxes, fmt=fmt, ids=ids)

    def _check_frame(self, frame: np.ndarray | Tensor) -> tuple | None:
        """``frame``'s ``(type, H, W, C)``; ``DataError`` when its size differs from the
        stream's first frame, or its channels from the first frame of its type (gray numpy
        after RGB numpy). A float frame's pixels are checked for NaN and infinity where they
        are read (:meth:`_frame`), not over the whole frame."""
        shape = tuple(getattr(frame, "shape", ()))
        if isinstance(frame, Tensor) and len(shape) == 3:
            kind = ("tensor", shape[1], shape[2], shape[0])  # (C, H, W)
        elif isinstance(frame, np.ndarray) and len(shape) in (2, 3):
            kind = ("numpy", shape[0], shape[1], shape[2] if len(shape) == 3 else 1)
        else:
            return None  # frame_tensor says what is wrong with it
        first = self._frame_shape
        if first is not None and (
            kind[1:3] != first[1:3] or (kind[0] == first[0] and kind != first)
        ):
            (_, h, w, c), (_, H, W, C) = kind, first
            raise DataError(
                f"frame is {w}x{h} with {c} channels, the stream started with {W}x{H} with "
                f"{C}: a stream's frames keep one size and channel count (init starts another)"
            )
        return kind

    @torch.inference_mode()
    def add(self, frame: np.ndarray | Tensor, boxes, fmt: str | None = None, ids=None) -> list[int]:
        """Start tracking more objects, given by their ``boxes`` in the current ``frame``.

        ``ids`` (one int per box, none of them live) names the new objects with the caller's
        ids (one id space with the caller); by default they get the next free ids."""
        xyxy = self._boxes_xyxy(boxes, fmt or self.fmt, self._size_of(frame))
        if ids is None:
            new = list(range(self._next_id, self._next_id + xyxy.shape[0]))
        else:
            new = [int(i) for i in np.atleast_1d(ids)]
            if len(new) != xyxy.shape[0]:
                raise ValueError(f"{len(new)} ids but {xyxy.shape[0]} boxes")
            if len(set(new)) != len(new) or set(new) & set(self._ids):
                raise ValueError(f"ids {new} repeat one another or a live object's")
        if not new:
            return []
        state = self.model.init_state(self._frame(frame, self.model.first_windows(xyxy)), xyxy)
        self._remember(frame)
        self._state = state if self._state is None else _concat_states(self._state, state)
        self._next_id = max(self._next_id, max(new) + 1)
        self._ids += new
        self._windows = torch.cat((self._windows, state.window.cpu()))
        return new

    def remove(self, ids) -> None:
        """Stop tracking the objects ``ids`` (unknown ids raise ``KeyError``)."""
        gone = {int(i) for i in np.atleast_1d(ids)}
        unknown = gone - set(self._ids)
        if unknown:
            raise KeyError(f"no live objects with ids {sorted(unknown)}")
        keep = [i for i, oid in enumerate(self._ids) if oid not in gone]
        self._ids = [self._ids[i] for i in keep]
        self._windows = self._windows[keep]
        if self._state is not None:
            index = torch.tensor(keep, dtype=torch.long, device=self.device)
            self._state = self._state.select(index) if keep else None

    @torch.inference_mode()
    def correct(self, frame: np.ndarray | Tensor, ids, boxes, fmt: str | None = None) -> None:
        """Move the objects ``ids`` to ``boxes`` (``(N, 4)`` in ``fmt``) in the current ``frame``.

        Each object is restarted at its box as :meth:`add` would start it (new first-frame
        template and memory from this frame) but keeps its id and its row in :meth:`update`'s
        output. This is how a detection corrects a track that drifted. Unknown ids raise
        ``KeyError``.
        """
        ids = [int(i) for i in np.atleast_1d(ids)]
        row_of = {oid: row for row, oid in enumerate(self._ids)}
        unknown = set(ids) - set(row_of)
        if unknown:
            raise KeyError(f"no live objects with ids {sorted(unknown)}")
        if not ids or self._state is None:
            return
        xyxy = self._boxes_xyxy(boxes, fmt or self.fmt, self._size_of(frame))
        if xyxy.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids but {xyxy.shape[0]} boxes")
        fresh = self.model.init_state(self._frame(frame, self.model.first_windows(xyxy)), xyxy)
        self._remember(frame)
        rows = torch.tensor([row_of[i] for i in ids], device=self.device)
        self._state = TrackerState(
            *(old.index_copy(0, rows, new) for old, new in zip(self._state, fresh, strict=True))
        )
        self._windows[rows.cpu()] = fresh.window.cpu()

    @torch.inference_mode()
    def update(self, frame: np.ndarray | Tensor) -> np.ndarray:
        """Track every live object into ``frame``: ``(N, 4)`` float boxes in the init format.

        :attr:`scores` and :attr:`lost` then describe the same objects. Only the part of the
        frame that the step's windows read is converted (computed once, with the step's own
        :meth:`~ratrack.model.tracker.RecurrentTracker.read_windows`).
        """
        if self._state is None:
            self._check_frame(frame)  # (with objects, _frame checks it)
            return np.zeros((0, 4), dtype=np.float32)
        reads = self.model.read_windows(self._state)
        before, previous = self._state, self._previous
        out, self._state = self.model.step(
            self._frame(frame, reads.union()), self._state, reads=reads
        )
        windows = out.window
        if self.model.config.jump_check > 0 and previous is not None:
            windows = self._refuse_jumps(previous, frame, before, windows)
        self._remember(frame)
        self._windows = windows.cpu()
        return convert_boxes(self._state.box, "xyxy", self.fmt).cpu().numpy()

    def _remember(self, frame: np.ndarray | Tensor) -> None:
        """Keep a copy of ``frame`` as the previous frame (with ``jump_check`` only): the
        caller may reuse its buffer for the next frame."""
        if self.model.config.jump_check > 0:
            self._previous = frame.copy() if isinstance(frame, np.ndarray) else frame.clone()

    def _refuse_jumps(
        self,
        previous: np.ndarray | Tensor,
        frame: np.ndarray | Tensor,
        before: TrackerState,
        windows: Tensor,
    ) -> Tensor:
        """The model's ``jump_check`` on the step just taken from ``before`` (the state in
        ``previous``) into ``frame``: each confident object (score at least ``lost_score``
        before and after) whose centre moved more than ``jump_check`` times its long side is
        looked for back in ``previous`` by matching the patch at its new box in ``frame``
        (:meth:`~ratrack.model.tracker.RecurrentTracker.locate`). Where that patch lies more
        than ``jump_check`` of the side from the box it had, the object keeps ``before``'s row
        (box, memory, score and window); where it lies nowhere (too little of it inside the
        frame), the move stands. Returns the windows looked through, refused rows back at
        ``before``'s."""
        c, after = self.model.config, self._state
        was = convert_boxes(before.box, "xyxy", "cxcywh")
        centre, side = was[:, :2], was[:, 2:].amax(1)
        now = convert_boxes(after.box, "xyxy", "cxcywh")[:, :2]
        moved = (now - centre).norm(dim=1) > c.jump_check * side
        sure = (before.score >= c.lost_score) & (after.score >= c.lost_score)
        rows = torch.nonzero(moved & sure)[:, 0]
        if len(rows) == 0:
            return windows
        boxes = after.box[rows]
        cut, search = self.model.locate_windows(boxes)
        landed = self.model.locate(self._frame(frame, cut), boxes, self._frame(previous, search))
        missed = (landed - centre[rows]).norm(dim=1) > c.jump_check * side[rows]  # NaN: kept
        refused = rows[missed]
        if len(refused) == 0:
            return windows
        self._state = TrackerState(
            *(
                new.index_copy(0, refused, old[refused])
                for new, old in zip(after, before, strict=True)
            )
        )
        return windows.index_copy(0, refused, before.window[refused])
