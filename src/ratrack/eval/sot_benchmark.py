"""Single-object evaluation over a benchmark: several sequence folders, or roots holding them,
scored once per ground-truth file with ratrack and the OpenCV peers run in the same pass
(:func:`evaluate_sot_benchmark`), with a per-sequence table, the scores over all sequences and
OTB-style plots over all of them (:class:`SotBenchmark`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ratrack.data.formats import detect_format, open_sequence
from ratrack.data.otb import gt_files
from ratrack.errors import DataError, RatrackError
from ratrack.eval.peers import PEER_LABELS, OpenCVTracker, SotTracker, peer_option
from ratrack.eval.plots import plot_precision, plot_success
from ratrack.eval.sot import SotReport, evaluate_sot


def find_sequences(paths: Iterable[str | Path]) -> list[tuple[str, Path, str | None]]:
    """The single-object sequences under ``paths``: ``(name, folder, gt_file)`` per
    ground-truth file, in order.

    Each path is a sequence folder or video (:func:`detect_format`), or a root: every folder
    below it holding frames and ``groundtruth_rect*.txt`` or ``groundtruth.txt`` (OTB, LaSOT,
    VOT, GOT-10k, TLP; :func:`ratrack.data.otb.gt_files`) is a sequence, sorted by path. An OTB
    folder with several ground-truth files (``groundtruth_rect.1.txt``, ``.2.txt``: several
    objects) gives one entry per file, named ``folder.N``. A path that is neither raises
    ``DataError`` naming it.
    """
    found: list[tuple[str, Path, str | None]] = []
    for given in paths:
        path = Path(given)
        if not path.exists():
            raise DataError("no such file or folder", path)
        try:
            folders = [path] if detect_format(path) in _SOT_FORMATS else []
        except DataError:
            folders = []
        if not folders and path.is_dir():
            folders = sorted(
                {
                    p.parent
                    for pattern in ("groundtruth_rect*.txt", "groundtruth.txt")
                    for p in path.rglob(pattern)
                    if _is_sot_folder(p.parent)
                },
                key=lambda p: str(p),
            )
        if not folders:
            raise DataError(
                "holds no single-object sequence (OTB, LaSOT, VOT, GOT-10k, TLP, MOT, KITTI, "
                "video)",
                path,
            )
        for folder in folders:
            name = path.name if folder == path else folder.relative_to(path).as_posix()
            files = gt_files(folder) if folder.is_dir() else []
            if folder.is_dir() and detect_format(folder) == "otb" and len(files) > 1:
                found += [(f"{name}.{_gt_suffix(f)}", folder, f.name) for f in files]
            else:
                found.append((name, folder, None))
    return found


_SOT_FORMATS = ("otb", "tlp", "mot", "kitti", "video")


def _is_sot_folder(folder: Path) -> bool:
    """Whether ``folder`` is an OTB-style or TLP sequence (its frames beside its ground truth)."""
    try:
        return detect_format(folder) in ("otb", "tlp")
    except DataError:
        return False


def _gt_suffix(path: Path) -> str:
    """``"2"`` for ``groundtruth_rect.2.txt`` (``"1"`` for ``groundtruth_rect.txt``)."""
    middle = path.name[len("groundtruth_rect") : -len(".txt")].strip(".")
    return middle or "1"


@dataclass(frozen=True)
class SotBenchmark:
    """Every tracker on every sequence, and each tracker's overall scores.

    Overall scores (OTB's convention): the mean over sequences of each sequence's mean IoU,
    success AUC and precision at 20 px; success and precision curves averaged over sequences;
    frames/s is all frames over all seconds inside the tracker's calls.
    """

    reports: list[SotReport]
    scores: dict[str, dict[str, list[float]]]  # tracker -> sequence -> per-frame confidence

    @property
    def trackers(self) -> list[str]:
        return list(self.reports[0].results) if self.reports else []

    def overall(self) -> dict[str, dict]:
        out = {}
        for name in self.trackers:
            results = [r.results[name] for r in self.reports]
            fps = None
            if all(x.fps for x in results):
                frames = sum(r.frames for r in self.reports)
                seconds = sum(r.frames / x.fps for r, x in zip(self.reports, results, strict=True))
                fps = frames / seconds if seconds > 0 else None
            out[name] = {
                "sequences": len(results),
                "mean_iou": float(np.mean([x.summary["mean_iou"] for x in results])),
                "success_auc": float(np.mean([x.summary["success_auc"] for x in results])),
                "precision_20": float(np.mean([x.summary["precision_20"] for x in results])),
                "fps": fps,
                "success_curve": np.mean([x.success for x in results], 0),
                "precision_curve": np.mean([x.precision for x in results], 0),
            }
        return out

    def table(self) -> str:
        """Per sequence, each tracker's mean IoU; then each tracker's overall scores."""
        names = self.trackers
        width = max([8, *(len(r.sequence) for r in self.reports)]) + 2
        head = f"{'sequence':<{width}}{'frames':>7}" + "".join(f"{n[:11]:>12}" for n in names)
        lines = ["mean IoU per sequence", head, "-" * len(head)]
        for r in self.reports:
            cells = "".join(f"{r.results[n].summary['mean_iou']:>12.3f}" for n in names)
            lines.append(f"{r.sequence:<{width}}{r.frames:>7}{cells}")
        overall = self.overall()
        head = f"{'tracker':<14}{'mean IoU':>9}{'AUC':>8}{'prec@20':>9}{'fps':>9}"
        lines += ["", f"overall ({len(self.reports)} sequences)", head, "-" * len(head)]
        for name, o in sorted(overall.items(), key=lambda kv: -kv[1]["mean_iou"]):
            fps = "-" if o["fps"] is None else f"{o['fps']:.1f}"
            lines.append(
                f"{name:<14}{o['mean_iou']:>9.3f}{o['success_auc']:>8.3f}"
                f"{o['precision_20']:>9.3f}{fps:>9}"
            )
        return "\n".join(lines)

    def to_json(self) -> dict:
        """A JSON-ready dict: overall scores per tracker and every sequence's report."""
        overall = {
            name: {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in o.items()}
            for name, o in self.overall().items()
        }
        sequences = []
        for r in self.reports:
            entry = r.to_json()
            for name, scores in self.scores.items():
                if r.sequence in scores:
                    entry["trackers"][name]["scores"] = scores[r.sequence]
            sequences.append(entry)
        return {"overall": overall, "sequences": sequences}

    def write_plots(self, out_dir: str | Path) -> list[Path]:
        """OTB-style success and precision plots over all sequences (curves averaged)."""
        out_dir = Path(out_dir)
        title = f"({len(self.reports)} sequences)"
        overall = self.overall()
        return [
            plot_success(
                {n: o["success_curve"] for n, o in overall.items()}, out_dir / "success.png", title
            ),
            plot_precision(
                {n: o["precision_curve"] for n, o in overall.items()},
                out_dir / "precision.png",
                title,
            ),
        ]


def evaluate_sot_benchmark(
    paths: Iterable[str | Path],
    *,
    weights: str | None = "natural",
    peers: str = "",
    device: str = "cpu",
    progress: Callable[[str, int, int], None] | None = None,
) -> SotBenchmark:
    """Run ratrack (``weights``: a shipped name or a checkpoint; None: not run) and the OpenCV
    ``peers`` on every sequence of :func:`find_sequences` ``(paths)``, all in one pass over each
    sequence's frames from its first ground-truth box. ``progress(sequence, done, total)`` is
    called per frame. Ground-truth rows without a box (NaN: the target is out of view) are left
    out of the scores."""
    from ratrack.track.sot import SingleObjectTracker

    names = peer_option(peers)
    if weights is None and not names:
        raise RatrackError("nothing to evaluate: give weights and/or peers")
    entries = find_sequences(paths)
    if weights is not None:  # load once, before the first frame: a bad name fails fast
        SingleObjectTracker.from_pretrained(weights, device=device)
    reports, scores = [], {}
    for name, folder, gt_file in entries:
        options = {"gt_file": gt_file} if gt_file else {}
        sequence = open_sequence(folder, detect_format(folder), **options)
        trackers: dict[str, SotTracker] = {}
        ours = None
        if weights is not None:
            ours = SingleObjectTracker.from_pretrained(weights, device=device)
            trackers["ratrack"] = ours
        trackers.update({PEER_LABELS[p]: OpenCVTracker(name=p) for p in names})
        step = None
        if progress is not None:
            step = _counter(progress, name, len(sequence))
        report = evaluate_sot(sequence, trackers=trackers, progress=step)
        reports.append(SotReport(sequence=name, frames=report.frames, results=report.results))
        if ours is not None:
            scores.setdefault("ratrack", {})[name] = list(ours.scores)
    return SotBenchmark(reports=reports, scores=scores)


def _counter(progress: Callable[[str, int, int], None], name: str, total: int):
    """``progress(name, done, total)`` as a per-frame callback counting the frames."""
    done = [0]

    def step(_t: int) -> None:
        done[0] += 1
        progress(name, done[0], total)

    return step
