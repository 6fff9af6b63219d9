"""The output policy (ratrack.outputs): inputs never overwritten, special files and symlinks
written through, atomic replacement of regular files, checks before work, commit on signals."""

from __future__ import annotations

import os
import signal
import stat
import threading

import pytest

from ratrack.errors import RatrackError
from ratrack.outputs import (
    Interrupted,
    Output,
    OutputFolder,
    check_outputs,
    stop_on_signal,
    write_text,
)


def _listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_output_equal_to_an_input_is_refused(tmp_path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video")
    (tmp_path / "link.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    for out in (video, tmp_path / "link.mp4", tmp_path / "hard.mp4", tmp_path / "." / "v.mp4"):
        with pytest.raises(RatrackError, match=r"^--out .*: is also the input SOURCE"):
            check_outputs({"--out": out}, inputs={"SOURCE": video})
    # an input given as several paths (the frames of a folder)
    with pytest.raises(RatrackError, match="is also the input SOURCE"):
        check_outputs({"--out": video}, inputs={"SOURCE": [tmp_path / "a.png", video]})
    # outputs that do not exist yet compare by resolved path
    with pytest.raises(RatrackError, match="is also the input --init-file"):
        check_outputs({"--out": tmp_path / "new.txt"}, inputs={"--init-file": tmp_path / "new.txt"})
    assert video.read_bytes() == b"video"


def test_two_outputs_on_one_path_are_refused(tmp_path):
    with pytest.raises(RatrackError, match=r"^--out and --video name the same path"):
        check_outputs({"--out": tmp_path / "a.mp4", "--video": tmp_path / "a.mp4"})
    assert _listing(tmp_path) == []


def test_files_and_folders_are_checked_before_work(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RatrackError, match=r"^--out .*dir: is a folder"):
        check_outputs({"--out": tmp_path / "dir"})
    with pytest.raises(RatrackError, match=r"^--out .*file: is a file; give a folder"):
        check_outputs(folders={"--out": tmp_path / "file"})
    with pytest.raises(RatrackError, match=r"^--json .*: cannot write in|not a folder"):
        check_outputs({"--json": tmp_path / "file" / "x.json"})
    with pytest.raises(RatrackError, match=r"^--plot /proc/nope/deeper: cannot write in /proc"):
        check_outputs(folders={"--plot": "/proc/nope/deeper"})
    # missing folders are fine (created later); the check leaves nothing behind
    check_outputs({"--out": tmp_path / "a" / "b" / "c.txt"}, folders={"--dir": tmp_path / "d"})
    assert _listing(tmp_path) == ["dir", "file"]


def test_regular_file_is_replaced_atomically_and_keeps_its_mode(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    out = Output(path)
    with out.open("w") as f:
        f.write("new")
    assert path.read_text() == "old"  # nothing visible before the commit
    assert out.temp is not None and out.temp.name.startswith(".out.")
    out.commit()
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert _listing(tmp_path) == ["out.txt"]


def test_abort_leaves_nothing_behind_not_even_folders(tmp_path):
    out = Output(tmp_path / "a" / "b" / "out.mp4")
    assert out.write_path.suffix == ".mp4"  # writers that pick a container by suffix
    out.write_path.write_bytes(b"half")
    out.abort()
    assert _listing(tmp_path) == []
    with pytest.raises(ValueError):
        with Output(tmp_path / "x.txt") as out:
            out.write_path.write_text("half")
            raise ValueError("boom")
    assert _listing(tmp_path) == []


def test_new_file_gets_the_umask_mode(tmp_path):
    mask = os.umask(0o022)
    try:
        write_text(tmp_path / "x.txt", "x\n")
    finally:
        os.umask(mask)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o644


def test_symlink_target_is_written_and_the_link_stays(tmp_path):
    (tmp_path / "target.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("target.txt")
    write_text(tmp_path / "link.txt", "new\n")
    assert (tmp_path / "link.txt").is_symlink()
    assert (tmp_path / "target.txt").read_text() == "new\n"
    assert _listing(tmp_path) == ["link.txt", "target.txt"]


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    out = Output(fifo)
    assert out.special and out.temp is None
    check_outputs({"--out": fifo})  # does not open (and so does not block on) the FIFO
    with out.open("w") as f:
        f.write("1,2,3\n")
    out.commit()
    reader.join(10)
    assert got == [b"1,2,3\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_device_is_written_through(tmp_path):
    if os.geteuid() == 0:  # a private null device: the real /dev/null is never at risk
        device = tmp_path / "null"
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:  # an unprivileged user cannot replace /dev/null whatever the code does
        device = "/dev/null"
    write_text(device, "x\n")
    assert stat.S_ISCHR(os.stat(device).st_mode)
    assert os.stat(device).st_rdev == os.makedev(1, 3)


def test_output_folder_is_renamed_into_place(tmp_path):
    target = tmp_path / "seq"
    with OutputFolder(target) as folder:
        (folder.temp / "seqinfo.ini").write_text("[Sequence]\n")
        assert not target.exists()
    assert _listing(target) == ["seqinfo.ini"]
    with pytest.raises(KeyboardInterrupt):
        with OutputFolder(target) as folder:
            (folder.temp / "half").write_text("")
            raise KeyboardInterrupt
    assert _listing(tmp_path) == ["seq"] and _listing(target) == ["seqinfo.ini"]
    with OutputFolder(target) as folder:  # a second export replaces the first
        (folder.temp / "gt.txt").write_text("")
    assert _listing(target) == ["gt.txt"] and _listing(tmp_path) == ["seq"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_first_signal_is_a_request_second_interrupts(signum):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under nohup or a background job
    with stop_on_signal() as stop:
        assert not stop
        os.kill(os.getpid(), signum)
        assert stop.signum == signum  # the loop finishes its frame
        with pytest.raises(Interrupted) as info:
            os.kill(os.getpid(), signum)
    assert info.value.exit_code == 128 + signum
    with pytest.raises(Interrupted) as info:
        stop.raise_if_set("kept 3 frames")
    assert str(info.value) == "kept 3 frames" and isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is before  # restored


def test_long_names(tmp_path):
    name = "a" * 250 + ".txt"  # fits; its temporary file must fit too
    check_outputs({"--out": tmp_path / name})
    write_text(tmp_path / name, "x\n")
    assert _listing(tmp_path) == [name]
    with pytest.raises(RatrackError, match="longer than 255 bytes"):
        check_outputs({"--out": tmp_path / ("b" * 300)})
