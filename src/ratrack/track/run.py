"""``ratrack track``: follow objects through a user's footage and write the tracks.

Sources (:func:`open_source`): a video file (anything OpenCV decodes), a folder of images, an
OTB/TLP folder, a MOTChallenge sequence folder, a KITTI tracking sequence (``kitti_root`` and
``sequence``, or its ``image_02/SSSS`` folder), or a KITTI raw drive (the drive folder, its date
folder, or a raw root holding exactly one drive). Frames are decoded one at a time, so memory
stays flat however long the footage.

Frames whose image is absent (a KITTI tracking sequence whose labels cover more frames than the
images present, as in the sample data: sequence 0001 has only frames 10, 15 and 20) are skipped:
the tracker steps from one present frame to the next, outputs carry the dataset's own frame
numbers, and detection or init rows on absent frames are ignored. A MOTChallenge folder whose
``seqinfo.ini`` declares more frames than its images hold is tracked over the images present.

Who is tracked:

* ``init``: boxes on the first frame (the first frame with an image), in ``init_format``
  (``xywh`` 0-based pixels, ``xywh1`` 1-based as OTB/MOT write them, ``xyxy``, or by default
  ``auto``: 1-based when the boxes are the sequence's own first ground-truth boxes as its file
  writes them, else 0-based; :func:`~ratrack.track.inputs.parse_init_boxes`);
* ``init_file``: a MOTChallenge (1-based frames) or KITTI (0-based) file; each track id starts
  on the first frame with an image on which the file gives it a box, and keeps its id (rows with
  MOT ``conf`` 0 and KITTI ``DontCare`` rows are skipped);
* ``detections``: a detection file (:func:`read_detection_file`) driving the lifecycle of
  :class:`~ratrack.track.multi.MultiTracker` (births, Hungarian matching on IoU, correction,
  ends).

Outputs: a track file (:data:`OUT_FORMATS`: MOTChallenge results ``frame,id,x,y,w,h,conf,-1,-1,
-1`` with 1-based frames, KITTI tracking results with 0-based frames and scores, or JSON lines
with one object per frame) and an annotated video (boxes, ids, glimpse windows). Without
detections the score written is the tracker's own confidence (:attr:`Tracker.scores`); with
``drop_lost`` the frames where an object is lost are left out. A track whose box has left the
frame ends. Track ids start
at 1 (after the largest id of an init file). Both are written to a temporary file beside the
target and renamed when the run ends (:mod:`ratrack.outputs`), so a failed run leaves nothing
behind; a run interrupted by SIGINT (Ctrl-C) or SIGTERM finishes the frame under way, keeps
everything up to it, complete and valid, and raises :class:`~ratrack.outputs.Interrupted`.
Every input is read and checked before the first frame is tracked, and every output before
any input is read: an output that is an input, two outputs on one path, a folder given as a
file or a folder that cannot be written are refused at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratrack.data.detections import (
    DET_FORMATS,
    FrameTable,
    check_frames,
    check_table_boxes,
    read_init_file,
)
from ratrack.data.kitti_labels import check_kitti_type
from ratrack.data.sequence import Sequence
from ratrack.devices import cpu_threads, resolve_device
from ratrack.errors import ConfigError, check_number
from ratrack.outputs import Interrupted, check_outputs, stop_on_signal
from ratrack.track.inputs import (
    boxes_only,
    first_truth,
    kitti_length,
    parse_init_boxes,
    plan_starts,
    read_detections_of,
    resolve_weights,
)
from ratrack.track.io import OUT_FORMATS, TrackFile, TrackVideo, format_frame
from ratrack.track.multi import (
    DASHCAM,
    DelayedFrames,
    Detections,
    FrameTracks,
    MultiTrackConfig,
    MultiTracker,
    Starts,
)
from ratrack.track.online import Tracker
from ratrack.track.sources import (
    declared_length,
    iter_frames,
    open_source,
    present_frames,
    read_ahead,
    source_files,
    source_fps,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrackConfig:
    """How ``ratrack track`` tracks and writes (inputs and output paths are arguments)."""

    weights: str = "auto"  # "auto": natural weights if installed, else bmnist (with a warning)
    device: str = "cpu"  # torch device the tracker runs on
    out_format: str = "mot"  # one of OUT_FORMATS
    object_type: str = "Car"  # KITTI type written for tracks whose class is unknown
    max_frames: int | None = None  # stop after this many frames with images (None: all)
    threads: int = 1  # torch and OpenCV CPU threads of the run (0: the libraries' own)
    read_ahead: int = 4  # frames decoded ahead in a background thread (0: decode in line)
    # True: an object's rows are left out of the outputs on frames where the tracker has lost
    # it (its score is below the model's lost_score; runs without detections only)
    drop_lost: bool = False
    lifecycle: MultiTrackConfig | None = None  # None: the dashcam defaults per class (DASHCAM)

    def __post_init__(self) -> None:
        if self.out_format not in OUT_FORMATS:
            raise ConfigError(
                "out_format", f"must be one of {', '.join(OUT_FORMATS)}, got {self.out_format!r}"
            )
        check_kitti_type(self.object_type, "object_type")
        resolve_device(self.device)
        if self.max_frames is not None:
            check_number("max_frames", self.max_frames, low=1, integer=True)
        check_number("threads", self.threads, low=0, high=1024, integer=True)
        check_number("read_ahead", self.read_ahead, low=0, high=1024, integer=True)


@dataclass
class Timing:
    """Seconds spent waiting for decoded frames (decoding, where it is not read ahead), inside
    the tracker, and writing outputs."""

    decode: float = 0.0
    track: float = 0.0
    write: float = 0.0


@dataclass(frozen=True)
class TrackResult:
    """Summary of a run."""

    frames: int  # frames tracked
    skipped: int  # frames without an image, skipped
    tracks: int  # distinct track ids reported
    boxes: int  # (object, frame) rows reported
    timing: Timing
    weights: str
    device: str
    out: Path | None
    video: Path | None

    @property
    def fps(self) -> float:
        """Frames per second end to end (decode + track + write)."""
        total = self.timing.decode + self.timing.track + self.timing.write
        return self.frames / total if total > 0 else float("inf")

    def summary(self) -> str:
        """A few lines for the end of a run."""
        t = self.timing
        per = 1000.0 / max(self.frames, 1)
        lines = [
            f"tracked {self.frames} frames ({self.skipped} without an image skipped): "
            f"{self.tracks} tracks, {self.boxes} boxes; weights {self.weights} on {self.device}",
            f"  {self.fps:.1f} frames/s end to end; per frame: decode {t.decode * per:.1f} ms, "
            f"tracker {t.track * per:.1f} ms, writing {t.write * per:.1f} ms",
        ]
        lines += [f"  wrote {p}" for p in (self.out, self.video) if p is not None]
        return "\n".join(lines)


# --- streaming --------------------------------------------------------------------------------


def iter_tracks(
    frames: Iterator[tuple[int, np.ndarray | None]],
    multi: MultiTracker,
    *,
    starts: dict[int, Starts] | None = None,
    detections: FrameTable | None = None,
    timing: Timing | None = None,
) -> Iterator[tuple[int, np.ndarray | None, FrameTracks]]:
    """Track ``frames`` (``(t, frame)``, ``t`` the frame index; ``frame`` ``None`` from boxes
    alone): yields ``(t, frame, tracks)``, each frame complete: held back by
    :attr:`MultiTracker.delay` frames when later frames can still add rows to it."""
    timing = timing if timing is not None else Timing()
    starts = starts or {}
    held = multi.held() if detections is not None else DelayedFrames(0)
    while True:
        start = time.perf_counter()
        item = next(frames, None)
        timing.decode += time.perf_counter() - start
        if item is None:
            break
        t, frame = item
        det = None
        if detections is not None:
            rows = detections.rows(t)
            det = Detections(
                detections.boxes[rows], detections.scores[rows], detections.labels[rows]
            )
        start = time.perf_counter()
        tracks = multi.step(frame, det, starts.get(t), t=t)
        timing.track += time.perf_counter() - start
        yield from held.push(t, frame, tracks)
    yield from held.flush()


# --- the run ----------------------------------------------------------------------------------


def run_track(
    source: str | Path | Sequence | None = None,
    *,
    kitti_root: str | Path | None = None,
    sequence: str | None = None,
    init=(),
    init_format: str = "auto",
    init_file: str | Path | None = None,
    detections: str | Path | None = None,
    det_format: str = "auto",
    out: str | Path | None = None,
    video: str | Path | None = None,
    config: TrackConfig = TrackConfig(),
    tracker: Tracker | None = None,
    no_frames: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TrackResult:
    """Track objects through ``source`` and write ``out`` (and ``video``); see the module
    docstring. ``init`` holds boxes (``"x,y,w,h"`` strings or 4 numbers) in ``init_format``;
    ``tracker`` (a :class:`Tracker` without objects) replaces loading ``config.weights``.
    ``detections`` is a file or a folder (:func:`read_detection_folder`, with ``sequence``).
    From boxes alone (``no_frames``, or a KITTI root without the sequence's images) only
    ``detections`` are tracked, over frames 0 to the last of the KITTI labels or of the
    detections; an empty detection file gives an empty track file.
    ``progress(done, total)`` is called after each frame. Bad input raises ``RatrackError``
    before any output file is created."""
    lifecycle = config.lifecycle
    classes = {} if lifecycle is not None else DASHCAM
    lifecycle = lifecycle if lifecycle is not None else MultiTrackConfig()
    if det_format not in DET_FORMATS:
        raise ConfigError("det_format", f"must be one of {', '.join(DET_FORMATS)}")
    if boxes_only(kitti_root, sequence, source, no_frames):
        if detections is None:
            raise ConfigError("detections", ": tracking from boxes alone needs detections")
        if init or init_file is not None or video is not None:
            raise ConfigError("no_frames", ": init boxes, an init file and a video need frames")
        det_table = read_detections_of(detections, det_format, sequence)
        num_frames = max(
            kitti_length(kitti_root, sequence),
            int(det_table.frame.max()) + 1 if len(det_table.frame) else 0,
        )
        if config.max_frames is not None:
            num_frames = min(num_frames, config.max_frames)
        if len(det_table.frame) == 0:
            log.warning("%s: no detections; the track file will be empty", detections)
        check_outputs({"--out": out}, inputs={"--detections": detections})
        multi = MultiTracker(None, lifecycle, class_configs=classes)
        frames = ((t, None) for t in range(num_frames))
        return _write_tracks(
            frames,
            multi,
            None,
            det_table,
            out,
            None,
            config,
            num_frames,
            0,
            "(boxes only)",
            "cpu",
            progress,
        )
    seq = (
        source
        if isinstance(source, Sequence)
        else open_source(source, kitti_root=kitti_root, sequence=sequence)
    )
    weights_file = config.weights if tracker is None and Path(config.weights).is_file() else None
    check_outputs(
        {"--out": out, "--video": video},
        inputs={
            "SOURCE": source_files(seq),
            "--init-file": init_file,
            "--detections": detections,
            "--weights": weights_file,
        },
    )
    present = present_frames(seq)
    if config.max_frames is not None:
        present = present[: config.max_frames]
    num_frames = declared_length(seq)
    frame_size = seq.frame_size()
    if not init and init_file is None and detections is None:
        raise ConfigError("init", ": nothing to track; give init boxes, an init_file or detections")
    truth = first_truth(seq, int(present[0])) if init else None
    init_xyxy = parse_init_boxes(list(init), init_format, frame_size, truth=truth)
    table = None
    if init_file is not None:
        table = read_init_file(init_file)
        check_frames(table, init_file, num_frames, "init")
        check_table_boxes(table, init_file, frame_size)
    det_table = None
    if detections is not None:
        det_table = read_detections_of(detections, det_format, sequence)
        check_frames(det_table, detections, num_frames, "detection")
        check_table_boxes(det_table, detections, frame_size, "detection box")
    starts, first_id = plan_starts(
        init_xyxy, int(present[0]), table, present, frame_size, init_file
    )
    weights = "(given)"
    if tracker is None:
        weights = resolve_weights(config.weights)
        tracker = Tracker.from_pretrained(weights, device=resolve_device(config.device))
    multi = MultiTracker(tracker, lifecycle, first_id=first_id, class_configs=classes)
    skipped = len(seq) - len(present_frames(seq))
    if skipped:
        log.warning(
            "%s: %d of %d frames have no image and are skipped", seq.path, skipped, len(seq)
        )
    video_out = None
    if video is not None:
        video_out = (video, source_fps(seq), frame_size)
    return _write_tracks(
        read_ahead(iter_frames(seq, config.max_frames), config.read_ahead),
        multi,
        starts,
        det_table,
        out,
        video_out,
        config,
        len(present),
        skipped,
        weights,
        str(tracker.device),
        progress,
    )


def _write_tracks(
    frames,
    multi,
    starts,
    det_table,
    out,
    video,
    config,
    total,
    skipped,
    weights,
    device,
    progress,
) -> TrackResult:
    """Run :func:`iter_tracks` into the outputs (written atomically; module docstring)."""
    outputs: list[TrackFile | TrackVideo] = []
    text_out = video_out = None
    try:
        if out is not None:
            text_out = TrackFile(out)
            outputs.append(text_out)
        if video is not None:
            video_out = TrackVideo(*video)
            outputs.append(video_out)
    except BaseException:
        for o in outputs:
            o.discard()
        raise
    timing = Timing()
    ids: set[int] = set()
    count = boxes = 0
    try:
        # the frames' reader (a read-ahead thread) stops with the run, however it ends
        with stop_on_signal() as stop, closing(frames), cpu_threads(config.threads):
            for t, frame, tracks in iter_tracks(
                frames, multi, starts=starts, detections=det_table, timing=timing
            ):
                start = time.perf_counter()
                if config.drop_lost and det_table is None:
                    keep = tracks.scores >= multi.tracker.model.config.lost_score
                    tracks = tracks._replace(
                        **{f: getattr(tracks, f)[keep] for f in FrameTracks._fields[:6]}
                    )
                if text_out is not None:
                    text = format_frame(t, tracks, config.out_format, config.object_type)
                    text_out.write_frame(text)
                if video_out is not None:
                    video_out.write_frame(frame, tracks)
                timing.write += time.perf_counter() - start
                count += 1
                boxes += len(tracks.ids)
                ids.update(int(i) for i in tracks.ids)
                if progress is not None:
                    progress(count, total)
                if stop:
                    break
            if stop:
                for o in outputs:
                    o.keep()
                stop.raise_if_set(f"interrupted: outputs hold the {count} frames tracked")
    except KeyboardInterrupt as exc:
        for o in outputs:
            o.keep()
        if not isinstance(exc, Interrupted):
            log.warning("interrupted: outputs hold the %d frames tracked before", count)
        raise
    except BaseException:
        for o in outputs:
            o.discard()
        raise
    for o in outputs:
        o.commit()
    return TrackResult(
        frames=count,
        skipped=skipped,
        tracks=len(ids),
        boxes=boxes,
        timing=timing,
        weights=weights,
        device=device,
        out=Path(out) if out is not None else None,
        video=video_out.path if video_out is not None else None,
    )
