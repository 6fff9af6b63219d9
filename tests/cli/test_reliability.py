"""Issue #16 through the command line: every case of the issue, plus fuzzed option values and
file contents, run as real ``ratrack`` commands in their own processes.

Each refused command must: exit non-zero, print one line naming the file or option, print no
traceback, leave every input byte for byte as it was, and leave no file behind. Commands run
through ``cli_server.py`` (a fork per command, so the heavy imports are paid once), except the
one that checks the real ``python -m ratrack.cli`` process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
SERVER = Path(__file__).with_name("cli_server.py")
FUZZ = settings(
    max_examples=int(os.environ.get("RATRACK_CLI_FUZZ_EXAMPLES", "10")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
INIT = "205,151,17,50"  # the pedestrian of OTB Crossing, frame 1, x,y,w,h


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TQDM_DISABLE="1")
    return env


@dataclass
class Result:
    rc: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """Non-empty stderr lines."""
        return [line for line in self.err.splitlines() if line.strip()]


class Cli:
    """The ``ratrack`` command line, each command a forked process (see cli_server.py)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_env(),
            text=True,
        )
        assert json.loads(self.proc.stdout.readline()) == {"ready": True}
        self.count = 0

    def start(self, *argv: object, cwd: Path) -> int:
        self.count += 1
        request = {
            "argv": [str(a) for a in argv],
            "cwd": str(cwd),
            "out": str(self.workdir / "stdout.txt"),
            "err": str(self.workdir / "stderr.txt"),
        }
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["pid"]

    def wait(self) -> Result:
        rc = json.loads(self.proc.stdout.readline())["rc"]
        return Result(
            rc, (self.workdir / "stdout.txt").read_text(), (self.workdir / "stderr.txt").read_text()
        )

    def __call__(self, *argv: object, cwd: Path) -> Result:
        self.start(*argv, cwd=cwd)
        return self.wait()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    server = Cli(tmp_path_factory.mktemp("cli"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def clip(data_dir, tmp_path_factory) -> Path:
    """A 40-frame mp4 of real frames (OTB Crossing, 360x240)."""
    import cv2

    path = tmp_path_factory.mktemp("clip") / "v.mp4"
    frames = sorted((data_dir / "otb" / "Crossing" / "img").glob("*.jpg"))[:40]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (360, 240))
    for f in frames:
        writer.write(cv2.imread(str(f)))
    writer.release()
    _CROSSING_PNG[:] = [cv2.imencode(".png", cv2.imread(str(f)))[1].tobytes() for f in frames[:3]]
    return path


_CROSSING_PNG: list[bytes] = []  # the clip's first frames as PNG bytes (filled by ``clip``)


@pytest.fixture
def work(tmp_path, clip) -> Path:
    """A folder holding ``in/v.mp4`` (a copy of the clip); commands run in it."""
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "v.mp4").write_bytes(clip.read_bytes())
    return tmp_path


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (hidden ones too): its kind and, for files, a checksum."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = Path(root) / name
            mode = path.lstat().st_mode
            key = str(path.relative_to(folder))
            if stat.S_ISREG(mode):
                out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                out[key] = stat.filemode(mode)
    return out


def assert_refused(result: Result, *names: object) -> str:
    """Non-zero exit, no traceback, one stderr line that names each of ``names``."""
    assert result.rc not in (0, 1), result.err  # 1 is an uncaught exception
    assert "Traceback" not in result.err, result.err
    assert len(result.lines) == 1, result.err
    line = result.lines[0]
    assert line.startswith("error: "), line
    for name in names:
        assert str(name) in line, line
    return line


def refused(cli: Cli, work: Path, *argv: object, names=()) -> str:
    """Run a command that must be refused; nothing under ``work`` may change."""
    before = snapshot(work)
    line = assert_refused(cli(*argv, cwd=work), *names)
    assert snapshot(work) == before
    return line


def track(*extra: object, frames: int = 3) -> list[object]:
    return ["track", "in/v.mp4", "--max-frames", frames, *extra]


def mot_rows(text: str) -> np.ndarray:
    return np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])


# --- 1. an output equal to an input -----------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "path"),
    [("--out", "in/v.mp4"), ("--video", "in/v.mp4"), ("--out", "./in/../in/v.mp4")],
)
def test_output_equal_to_the_source_is_refused(cli, work, option, path):
    shown = path.removeprefix("./")
    refused(cli, work, *track("--init", INIT, option, path), names=[option, shown, "input"])


def test_output_equal_to_init_file_detections_or_a_frame_is_refused(cli, work, data_dir):
    (work / "init.txt").write_text("1,1,206,152,17,50,1,-1,-1,-1\n")
    refused(
        cli, work, *track("--init-file", "init.txt", "--out", "init.txt"), names=["--out", "init"]
    )
    (work / "det.txt").write_text("0,205,151,222,201,0.9\n")
    refused(cli, work, *track("--detections", "det.txt", "--video", "det.txt"), names=["--video"])
    (work / "link.txt").symlink_to("init.txt")
    refused(cli, work, *track("--init-file", "init.txt", "--out", "link.txt"), names=["--out"])
    frames = work / "frames"
    frames.mkdir()
    for name in ("0001.jpg", "0002.jpg"):
        (frames / name).write_bytes((data_dir / "otb/Crossing/img" / name).read_bytes())
    refused(
        cli,
        work,
        "track",
        "frames",
        "--init",
        INIT,
        "--video",
        "frames/0002.jpg",
        names=["--video", "frames/0002.jpg"],
    )


def test_output_equal_to_a_dataset_file_is_refused(cli, work, data_dir):
    """A MOTChallenge folder's ground truth and seqinfo.ini are inputs too."""
    seq = work / "MOT-X"
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    for i, name in enumerate(("0001.jpg", "0002.jpg"), start=1):
        (seq / "img1" / f"{i:06d}.jpg").write_bytes(
            (data_dir / "otb/Crossing/img" / name).read_bytes()
        )
    (seq / "gt" / "gt.txt").write_text("1,1,206,152,17,50,1,1,1\n2,1,204,151,17,50,1,1,1\n")
    (seq / "seqinfo.ini").write_text(
        "[Sequence]\nname=MOT-X\nimDir=img1\nframeRate=10\nseqLength=2\nimWidth=360\n"
        "imHeight=240\nimExt=.jpg\n"
    )
    for target in ("MOT-X/gt/gt.txt", "MOT-X/seqinfo.ini"):
        refused(cli, work, "track", "MOT-X", "--init", INIT, "--out", target, names=[target])


def test_out_and_video_on_one_path_are_refused(cli, work):
    refused(
        cli,
        work,
        *track("--init", INIT, "--out", "same.mp4", "--video", "same.mp4"),
        names=["--out", "--video", "same.mp4"],
    )


# --- 2. special files and symlinks are written through ------------------------------------


def test_fifo_and_symlink_outputs_are_written_through(cli, work):
    fifo = work / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    result = cli(*track("--init", INIT, "--out", "fifo"), cwd=work)
    reader.join(30)
    assert result.rc == 0, result.err
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert len(got[0].decode().splitlines()) == 3
    (work / "target.txt").write_text("old\n")
    (work / "link.txt").symlink_to("target.txt")
    result = cli(*track("--init", INIT, "--out", "link.txt"), cwd=work)
    assert result.rc == 0, result.err
    assert (work / "link.txt").is_symlink()
    assert mot_rows((work / "target.txt").read_text())[:, 0].tolist() == [1, 2, 3]
    assert sorted(p.name for p in work.iterdir()) == ["fifo", "in", "link.txt", "target.txt"]


@pytest.mark.parametrize(("name", "minor"), [("null", 3), ("full", 7)])
def test_device_output_stays_a_device(cli, work, name, minor):
    if os.geteuid() == 0:  # a private device node: the real /dev/null and /dev/full are safe
        device = work / name
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    else:  # an unprivileged user cannot replace /dev/* whatever the code does
        device = Path("/dev") / name
    result = cli(*track("--init", INIT, "--out", device, "--format", "jsonl"), cwd=work)
    if name == "null":
        assert result.rc == 0, result.err
    else:  # writing to /dev/full fails: one line naming the output
        assert_refused(result, "--out", device, "No space left")
    assert stat.S_ISCHR(device.lstat().st_mode)
    assert os.stat(device).st_rdev == os.makedev(1, minor)


# --- 3. a checkpoint is reported only if it exists; non-finite learning rates ---------------


@pytest.mark.parametrize("command", ["train", "pretrain"])
@pytest.mark.parametrize("lr", ["inf", "nan", "-1e-3", "0", "1e9"])
def test_learning_rate_must_be_finite_positive(cli, work, command, lr):
    refused(
        cli, work, command, "--data", "bmnist", "--steps", 3, "--batch", 2, "--lr", lr,
        "--out", "run", names=["--lr", "(0, 1]"],
    )  # fmt: skip


def test_train_reports_an_existing_checkpoint(cli, work):
    result = cli(
        "train", "--data", "bmnist", "--steps", 2, "--batch", 2, "--pool", 4, "--out", "run",
        "--device", "cpu", cwd=work,
    )  # fmt: skip
    assert result.rc == 0, result.err
    reported = [line for line in result.out.splitlines() if "checkpoint" in line]
    path = reported[0].split("checkpoint")[-1].strip(" :")
    assert (work / path).is_file()


def _save_tracker_checkpoint(path: Path, *, poison: bool = False, version: object = None) -> None:
    from ratrack.checkpoints import load_checkpoint

    payload = load_checkpoint(REPO / "src/ratrack/weights/bmnist.pt")
    if poison:
        name = next(iter(payload["model"]))
        payload["model"][name] = torch.full_like(payload["model"][name], float("nan"))
    if version is not None:
        payload["format_version"] = version
    torch.save(payload, path)


def test_bad_checkpoints_get_one_line(cli, work):
    _save_tracker_checkpoint(work / "nan.pt", poison=True)
    line = refused(
        cli, work, *track("--init", INIT, "--weights", "nan.pt"), names=["nan.pt", "finite"]
    )
    assert len(line) < 200
    _save_tracker_checkpoint(work / "version.pt", version="1")
    refused(cli, work, *track("--init", INIT, "--weights", "version.pt"), names=["version.pt"])
    refused(cli, work, *track("--init", INIT, "--device", "tpu"), names=["--device", "tpu"])


def test_resume_from_another_config_and_nan_checkpoint(cli, work):
    from ratrack.checkpoints import load_checkpoint

    run = work / "run"
    run.mkdir()
    payload = load_checkpoint(REPO / "src/ratrack/weights/natural.pt")
    torch.save(payload, run / "last.pt")
    line = refused(
        cli, work, "train", "--data", "bmnist", "--steps", 2, "--batch", 2, "--pool", 4,
        "--out", "run", "--device", "cpu", names=["last.pt"],
    )  # fmt: skip
    assert len(line) < 300
    _save_tracker_checkpoint(run / "last.pt", poison=True)
    refused(
        cli, work, "train", "--data", "bmnist", "--steps", 2, "--batch", 2, "--pool", 4,
        "--out", "run", "--device", "cpu", names=["last.pt", "finite"],
    )  # fmt: skip


# --- 4. KITTI object types that would break KITTI files -------------------------------------


@pytest.mark.parametrize("object_type", ["Big Truck", "", " ", "Car\tVan"])
def test_kitti_object_type_must_be_one_word(cli, work, object_type):
    refused(
        cli, work, *track("--init", INIT, "--format", "kitti", "--object-type", object_type,
        "--out", "k.txt"), names=["--object-type"],
    )  # fmt: skip


# --- 5. eval mot and missing ground truth ---------------------------------------------------


def test_eval_mot_refuses_a_prediction_without_ground_truth(cli, work):
    for folder in ("gt", "pred"):
        (work / folder).mkdir()
        for seq in ("a", "b", "c"):
            (work / folder / f"{seq}.txt").write_text("1,1,10,10,20,20,1,1,1\n")
    (work / "gt" / "c.txt").unlink()
    refused(cli, work, "eval", "mot", "--gt", "gt", "--pred", "pred", "--format", "mot",
            names=["c.txt", "ground truth"])  # fmt: skip


# --- 6. SIGTERM like SIGINT -----------------------------------------------------------------


def _wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def _partial_with_rows(folder: Path) -> bool:
    return any(p.name.startswith(".") and p.stat().st_size > 0 for p in folder.iterdir())


def _check_kept_outputs(work: Path) -> int:
    """The track file holds whole frames 1..n, the video n playable frames; nothing hidden."""
    import cv2

    rows = mot_rows((work / "t.txt").read_text())
    n = int(rows[:, 0].max())
    assert rows[:, 0].tolist() == list(range(1, n + 1))
    cap = cv2.VideoCapture(str(work / "t.mp4"))
    count = 0
    while cap.read()[0]:
        count += 1
    cap.release()
    assert count == n
    assert sorted(p.name for p in work.iterdir()) == ["in", "t.mp4", "t.txt"]
    return n


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_keeps_every_finished_frame(cli, work, signum):
    before = snapshot(work / "in")
    pid = cli.start(
        *track("--init", INIT, "--out", "t.txt", "--video", "t.mp4", frames=40), cwd=work
    )
    _wait_for(lambda: _partial_with_rows(work))
    os.kill(pid, signum)
    result = cli.wait()
    assert result.rc == 128 + signum, result.err
    assert "Traceback" not in result.err
    assert 1 <= _check_kept_outputs(work) < 40
    assert snapshot(work / "in") == before


def test_sigterm_real_process(work):
    """The same through ``python -m ratrack.cli`` in a fresh interpreter."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ratrack.cli", *map(str, track("--init", INIT, "--out", "t.txt",
         "--video", "t.mp4", frames=40))],
        cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    _wait_for(lambda: _partial_with_rows(work), timeout=120)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert 1 <= _check_kept_outputs(work) < 40


def test_sigterm_during_data_bmnist_leaves_only_whole_sequences(cli, work):
    pid = cli.start("data", "bmnist", "--num", 500, "--length", 30, "--out", "bm", cwd=work)
    _wait_for(lambda: (work / "bm").is_dir() and any((work / "bm").glob("bmnist-*")))
    os.kill(pid, signal.SIGTERM)
    result = cli.wait()
    assert result.rc == 143, result.err
    sequences = sorted((work / "bm").iterdir())
    assert 1 <= len(sequences) < 500
    for seq in sequences:
        assert not seq.name.startswith("."), seq
        assert (seq / "seqinfo.ini").is_file() and (seq / "gt" / "gt.txt").is_file()
        assert len(list((seq / "img1").iterdir())) == 30


def test_sigterm_during_train_writes_the_checkpoint(cli, work):
    pid = cli.start(
        "train", "--data", "bmnist", "--steps", 100000, "--batch", 2, "--pool", 4,
        "--out", "run", "--device", "cpu", cwd=work,
    )  # fmt: skip
    log = work / "run" / "log.csv"
    _wait_for(lambda: log.is_file() and len(log.read_text().splitlines()) >= 2, timeout=120)
    os.kill(pid, signal.SIGTERM)
    result = cli.wait()
    assert result.rc == 143, result.err
    assert "Traceback" not in result.err and "last.pt" in result.lines[-1]
    payload = torch.load(work / "run" / "last.pt", weights_only=True)
    assert 25 <= payload["step"] < 100000
    assert sorted(p.name for p in (work / "run").iterdir()) == ["last.pt", "log.csv"]


# --- 7. frames that change size -------------------------------------------------------------


def test_frame_size_change_is_an_error_naming_the_frame(cli, work, data_dir):
    import cv2

    folder = work / "frames"
    folder.mkdir()
    for i, src in enumerate(sorted((data_dir / "otb/Crossing/img").glob("*.jpg"))[:5]):
        image = cv2.imread(str(src))
        cv2.imwrite(str(folder / f"{i + 1:04d}.png"), image[:100] if i >= 3 else image)
    refused(
        cli, work, "track", "frames", "--init", "205,50,17,40", "--out", "t.txt",
        names=["0004.png", "360x100", "360x240"],
    )  # fmt: skip
    result = cli("data", "info", "frames", cwd=work)
    assert result.rc == 0, result.err
    assert "360x240" in result.out and "360x100" in result.out


# --- 8. tracebacks after work on ordinary mistakes ------------------------------------------


def test_outputs_are_checked_before_any_work(cli, work, data_dir):
    (work / "afolder").mkdir()
    (work / "afile").write_text("x\n")
    refused(cli, work, *track("--init", INIT, "--out", "afolder"), names=["--out", "afolder"])
    crossing = data_dir / "otb" / "Crossing"
    gt = crossing / "groundtruth_rect.txt"
    for option, path in (("--json", "afile/x.json"), ("--plot", "afile"), ("--json", "/proc/x/y")):
        refused(cli, work, "eval", "sot", crossing, "--pred", gt, option, path,
                names=[option, path])  # fmt: skip
    for command in (["pretrain", "--data", "bmnist"], ["train", "--data", "bmnist"],
                    ["data", "bmnist", "--num", 1]):  # fmt: skip
        refused(cli, work, *command, "--out", "afile", names=["--out", "afile"])
    refused(cli, work, "demo", "--sequences", 1, "--out", "/proc/x/demo.mp4",
            names=["--out", "/proc/x/demo.mp4"])  # fmt: skip
    refused(cli, work, "eval", "sot", crossing, "--pred", "missing.txt", names=["missing.txt"])


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["data", "bmnist", "--out", "bm", "--canvas", 100000], "--canvas"),
        (["data", "bmnist", "--out", "bm", "--canvas", 0], "--canvas"),
        (["data", "bmnist", "--out", "bm", "--length", 10**9], "--length"),
        (["train", "--data", "bmnist", "--out", "run", "--steps", 0], "--steps"),
        (["train", "--data", "bmnist", "--out", "run", "--batch", 0], "--batch"),
        (["pretrain", "--data", "bmnist", "--out", "run", "--steps", -1], "--steps"),
        (track("--init", INIT, "--birth-score", 5), "--birth-score"),
        (track("--init", INIT, "--min-score", "nan"), "--min-score"),
        (track("--init", INIT, "--iou-threshold", 0), "--iou-threshold"),
        (track("--init", INIT, "--max-misses", -1), "--max-misses"),
        (track("--init", "0,0,1e30,1e30"), "--init"),
        (track("--init", INIT, "--format", "xml"), "--format"),
    ],
)
def test_bad_option_values_name_the_option(cli, work, argv, option):
    line = refused(cli, work, *argv, names=[option])
    assert "Config(" not in line


def test_huge_box_in_init_file_names_the_line(cli, work):
    (work / "init.txt").write_text("1,1,206,152,17,50,1,-1,-1,-1\n1,2,10,10,1e308,20,1,-1,-1,-1\n")
    refused(cli, work, *track("--init-file", "init.txt", "--out", "t.txt"), names=["init.txt:2:"])


def test_data_info_on_a_device(cli, work):
    line = refused(cli, work, "data", "info", "/dev/null", names=["/dev/null"])
    assert "KITTI" not in line


# --- 9. absurd detections and boxes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "what"),
    [
        ("0,500,500,600,600,0.9", "outside"),
        ("0,205,151,222,201,1.7", "score"),
        ("0,205,151,222,201,-3", "score"),
        ("0,205,151,205,201,0.9", "x1 < x2"),
        ("0,0,0,1e30,1e30,0.9", "outside"),
    ],
)
def test_absurd_detections_name_the_line(cli, work, row, what):
    (work / "det.txt").write_text("0,100,100,140,180,0.8\n" + row + "\n")
    line = refused(
        cli, work, *track("--detections", "det.txt", "--out", "t.txt"), names=["det.txt:2:"]
    )
    assert what in line


def test_duplicate_detections_start_one_track(cli, work):
    (work / "det.txt").write_text("0,205,151,222,201,0.7\n" * 2 + "0,205,151,222,201,0.9\n")
    args = track("--detections", "det.txt", "--min-hits", "1", "--out", "t.txt", frames=1)
    result = cli(*args, cwd=work)  # --min-hits 1: a track is reported on its first frame
    assert result.rc == 0, result.err
    rows = mot_rows((work / "t.txt").read_text())
    assert rows.shape[0] == 1 and rows[0, 6] == pytest.approx(0.9)


def test_duplicate_id_in_init_file_names_the_line(cli, work):
    (work / "init.txt").write_text("1,1,206,152,17,50,1,-1,-1,-1\n1,1,100,100,17,50,1,-1,-1,-1\n")
    refused(
        cli,
        work,
        *track("--init-file", "init.txt", "--out", "t.txt"),
        names=["init.txt:2:", "id 1"],
    )


# --- fuzzing --------------------------------------------------------------------------------

NUMBERS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "0", "-0", "1e308", "-1", "1e-320", "2", "0.5", "1"]),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.text("0123456789.e-+x ", max_size=6),
)
TRACK_OPTIONS = ["--iou-threshold", "--min-score", "--birth-score", "--max-misses", "--max-frames"]


def _outcome(result: Result, work: Path, before: dict, expected_names: list[str], outputs=()):
    """Either the command succeeded (only ``outputs`` added) or it was refused cleanly."""
    assert "Traceback" not in result.err, result.err
    after = snapshot(work)
    if result.rc == 0:
        assert set(after) - set(before) <= set(outputs)
        assert {k: after[k] for k in before} == before
    else:
        assert_refused(result, *expected_names)
        assert after == before


@FUZZ
@given(option=st.sampled_from(TRACK_OPTIONS), value=NUMBERS)
def test_fuzz_track_options(cli, work, option, value):
    (work / "t.txt").unlink(missing_ok=True)
    if not (work / "in" / "short").is_dir():  # 3 frames: a valid --max-frames stays quick
        (work / "in" / "short").mkdir()
        for i in range(3):
            (work / "in" / "short" / f"{i}.png").write_bytes(_CROSSING_PNG[i])
    before = snapshot(work)
    argv = ["track", "in/short", "--init", INIT, option, value, "--out", "t.txt"]
    if option != "--max-frames":
        argv += ["--max-frames", 1]
    result = cli(*argv, cwd=work)
    if result.rc == 0:
        assert (work / "t.txt").is_file()
    _outcome(result, work, before, [option], outputs=["t.txt"])


@FUZZ
@given(
    option=st.sampled_from(["--lr", "--steps", "--batch", "--pool", "--canvas", "--length"]),
    value=NUMBERS,
)
def test_fuzz_training_and_data_options(cli, work, option, value):
    """Only refusals are run here (a valid value would start minutes of work)."""
    command = {
        "--lr": ["train", "--data", "bmnist"],
        "--steps": ["pretrain", "--data", "bmnist"],
        "--batch": ["train", "--data", "bmnist"],
        "--pool": ["pretrain", "--data", "natural"],
        "--canvas": ["data", "bmnist", "--num", 1],
        "--length": ["data", "bmnist", "--num", 1],
    }[option]
    try:
        number = float(value)
        valid = np.isfinite(number) and number > 0 and (option == "--lr" or number == int(number))
    except ValueError:
        valid = False
    if valid:  # still refused: combined with a value that is not
        command = [*command, "--seed", -1] if option != "--lr" else [*command, "--steps", 0]
    before = snapshot(work)
    result = cli(*command, option, value, "--out", "run", cwd=work)
    assert result.rc != 0
    _outcome(result, work, before, ["--"])


ROW_NUMBER = st.one_of(
    st.sampled_from(["nan", "inf", "-1", "0", "1e308", "400", "0.5", "1.5", "x", ""]),
    st.floats(-500, 700, allow_nan=False).map(lambda v: f"{v:.2f}"),
)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["0", "1", "2", "-1", "99", "1.5"]), *[ROW_NUMBER] * 5),
        min_size=1,
        max_size=4,
    ),
    kind=st.sampled_from(["--detections", "--init-file"]),
)
def test_fuzz_box_files(cli, work, rows, kind):
    (work / "t.txt").unlink(missing_ok=True)
    if kind == "--detections":  # frame,x1,y1,x2,y2,score (0-based frames)
        text = "".join(",".join(r) + "\n" for r in rows)
    else:  # MOT: frame,id,x,y,w,h,conf,-1,-1,-1 (1-based frames)
        text = "".join(f"{r[0]},{r[5]},{r[1]},{r[2]},{r[3]},{r[4]},1,-1,-1,-1\n" for r in rows)
    (work / "boxes.txt").write_text(text)
    before = snapshot(work)
    result = cli(*track(kind, "boxes.txt", "--out", "t.txt", frames=2), cwd=work)
    _outcome(result, work, before, ["boxes.txt"], outputs=["t.txt"])
