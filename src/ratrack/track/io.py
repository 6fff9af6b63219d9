"""Outputs of ``ratrack track``: track files (MOT, KITTI, JSON lines) and the annotated video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ratrack.data.kitti_labels import KittiLabels, format_kitti_lines
from ratrack.data.mot import MotRecords, format_mot_lines
from ratrack.errors import RatrackError
from ratrack.outputs import Output
from ratrack.track.multi import FrameTracks

OUT_FORMATS = ("mot", "kitti", "jsonl")


def format_frame(t: int, tracks: FrameTracks, fmt: str, object_type: str = "Car") -> str:
    """The lines of frame ``t`` in output format ``fmt`` (see :data:`OUT_FORMATS`)."""
    n = len(tracks.ids)
    if fmt == "jsonl":
        objects = [
            {
                "id": int(tracks.ids[k]),
                "box_xyxy": [float(v) for v in tracks.boxes[k]],
                "window_xyxy": [float(v) for v in tracks.windows[k]],
                "score": float(tracks.scores[k]),
                "class": str(tracks.labels[k]) or None,
                "matched": bool(tracks.matched[k]),
            }
            for k in range(n)
        ]
        ended = [int(i) for i in tracks.ended]
        return json.dumps({"frame": t, "objects": objects, "ended": ended}) + "\n"
    if n == 0:
        return ""
    if fmt == "mot":
        records = MotRecords(
            frame=np.full(n, t + 1), track_id=tracks.ids, boxes=tracks.boxes, conf=tracks.scores
        )
        return format_mot_lines(records, columns=10)

    types = np.where(tracks.labels == "", object_type, tracks.labels).astype(str)
    labels = KittiLabels(
        frame=np.full(n, t),
        track_id=tracks.ids,
        type=types,
        truncated=np.full(n, -1.0),
        occluded=np.full(n, -1),
        alpha=np.full(n, -10.0),
        boxes=tracks.boxes,
        dimensions=np.full((n, 3), -1.0),
        location=np.full((n, 3), -1000.0),
        rotation_y=np.full(n, -10.0),
        score=tracks.scores,
    )
    return format_kitti_lines(labels, with_score=True)


class TrackFile:
    """A text output written frame by frame under the output policy (:mod:`ratrack.outputs`):
    into a hidden temporary file renamed over ``path`` on :meth:`commit` (a FIFO or device is
    written directly). :meth:`keep` (after an interruption) cuts it to the last finished frame
    first; :meth:`discard` removes it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._output = Output(self.path, name="--out")
        self._file = self._output.open("wb")  # closed by commit/keep/discard
        self._done = 0  # bytes of finished frames

    def write_frame(self, text: str) -> None:
        data = text.encode()
        try:
            self._file.write(data)
            self._file.flush()
        except OSError as exc:  # a full disk or device: name the output, not a traceback
            raise RatrackError(f"--out {self.path}: cannot write ({exc.strerror or exc})") from None
        self._done += len(data)

    def commit(self) -> None:
        self._output.commit()

    def keep(self) -> None:
        if self._output.done:
            return
        if not self._output.special:
            self._file.truncate(self._done)
        self.commit()

    def discard(self) -> None:
        self._output.abort()


def _colour(track_id: int) -> tuple[int, int, int]:
    """A BGR colour per id (golden-ratio hues)."""
    import colorsys

    r, g, b = colorsys.hsv_to_rgb((track_id * 0.618034) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(frame: np.ndarray, tracks: FrameTracks) -> np.ndarray:
    """``frame`` (``(H, W, 3)`` RGB) as BGR with each object's box (thick), glimpse window (thin)
    and id drawn in its colour."""
    import cv2

    img = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR)
    for k, tid in enumerate(tracks.ids):
        colour = _colour(int(tid))
        wx1, wy1, wx2, wy2 = np.round(tracks.windows[k]).astype(int)
        cv2.rectangle(img, (wx1, wy1), (wx2, wy2), colour, 1)
        x1, y1, x2, y2 = np.round(tracks.boxes[k]).astype(int)
        cv2.rectangle(img, (x1, y1), (x2, y2), colour, 2)
        cv2.putText(
            img, str(int(tid)), (x1, max(y1 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1
        )
    return img


class TrackVideo:
    """An annotated video written under the output policy, like :class:`TrackFile`."""

    def __init__(self, path: str | Path, fps: float, frame_size: tuple[int, int]) -> None:
        import cv2

        self.path = Path(path)
        self._output = Output(self.path, name="--video")
        fourcc = "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"
        height, width = frame_size
        code = cv2.VideoWriter_fourcc(*fourcc)  # type: ignore[attr-defined]
        self._writer = cv2.VideoWriter(str(self._output.write_path), code, fps, (width, height))
        if not self._writer.isOpened():
            self._writer.release()
            self._output.abort()
            raise RatrackError(f"--video {self.path}: OpenCV cannot write a {fourcc} video here")
        self.size = (width, height)

    def write_frame(self, frame: np.ndarray, tracks: FrameTracks) -> None:
        import cv2

        img = draw_tracks(frame, tracks)
        if (img.shape[1], img.shape[0]) != self.size:  # frame size varies (KITTI): fit
            img = cv2.resize(img, self.size)
        self._writer.write(img)

    def commit(self) -> None:
        """Close the video (every frame written is complete) and put it in place."""
        self._writer.release()
        self._output.commit()

    keep = commit

    def discard(self) -> None:
        self._writer.release()
        self._output.abort()
