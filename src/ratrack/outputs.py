"""The one output policy every ratrack writer follows.

1. **Inputs are never outputs.** :func:`check_outputs` refuses an output that is one of the run's
   inputs: the same file by :func:`os.path.samefile` when both exist (hard links included),
   else the same path once symlinks and ``..`` are resolved.
2. **One path, one output.** Two outputs of one run on the same path are refused.
3. **Regular files are replaced atomically.** An output that is a regular file, or does not exist
   yet, is written to a hidden temporary file in its folder (``.NAME.XXXXXXXX.partial.EXT``)
   and renamed over the target on :meth:`Output.commit`: a reader never sees half a file, and
   :meth:`Output.abort` leaves nothing behind (nor the folders it created). A symlink is
   followed: its target is replaced and the link stays a link. A special file (a device such as
   ``/dev/null``, a FIFO, a socket) is written through in place: no temporary file, no rename,
   so it stays what it is.
4. **Checked before any work.** :func:`check_outputs` also refuses a file output that is a
   folder, a folder output that is a file, and a folder in which the process cannot create a
   file (probed by creating one), so a run never fails at its end on a path it could have
   refused at its start.
5. **Interruptions commit what is done.** :func:`stop_on_signal` turns SIGINT and SIGTERM into a
   request that a frame (or step) loop polls: the loop finishes its frame, stops, commits its
   outputs and raises :class:`Interrupted`, which the CLI turns into exit status 130 (SIGINT) or
   143 (SIGTERM). A second signal raises :class:`Interrupted` at once.

Errors are :class:`~ratrack.errors.RatrackError` whose message starts with the option (or role)
and the path, e.g. ``--out in/v.mp4: is also the input SOURCE; refusing to overwrite an input``.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import signal
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, TypeVar

from ratrack.errors import RatrackError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal after committing what it had finished.

    A subclass of ``KeyboardInterrupt``, so code that handles Ctrl-C handles it too.
    ``exit_code`` is the shell's ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int, message: str = "") -> None:
        super().__init__(message or f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum
        self.message = message or f"interrupted by {signal.Signals(signum).name}"

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopRequest:
    """Set by :func:`stop_on_signal`'s handler; a loop polls it once per frame or step."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def raise_if_set(self, message: str = "") -> None:
        """Raise :class:`Interrupted` if a signal arrived (call after committing outputs)."""
        if self.signum is not None:
            raise Interrupted(self.signum, message)


@contextlib.contextmanager
def stop_on_signal(
    signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[StopRequest]:
    """Within the block, the first SIGINT/SIGTERM sets the yielded :class:`StopRequest` instead
    of interrupting; a second one raises :class:`Interrupted` at once. The previous handlers
    are restored on exit. Outside the main thread (where Python cannot install handlers) the
    request is never set and signals keep their usual effect."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum: int, frame: object) -> None:
        if request.signum is not None:
            raise Interrupted(signum)
        request.signum = signum

    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield request
    finally:
        for s, old in previous.items():
            signal.signal(s, old)


def raise_on_sigterm() -> None:
    """Make SIGTERM raise :class:`Interrupted` wherever the main thread is (as Ctrl-C raises
    ``KeyboardInterrupt``), so ``finally`` blocks and :meth:`Output.abort` run instead of the
    process vanishing with temporary files left behind. The CLI calls this once at start."""

    def handler(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


# --- checks -----------------------------------------------------------------------------------


def _resolved(path: PathLike) -> str:
    return os.path.realpath(os.path.abspath(os.fspath(path)))


def same_file(a: PathLike, b: PathLike) -> bool:
    """Whether ``a`` and ``b`` name one file: :func:`os.path.samefile` when both exist, else
    equal paths after resolving symlinks."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return _resolved(a) == _resolved(b)


def _is_special(path: PathLike) -> bool:
    """A device, FIFO or socket (after following symlinks)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _nearest_folder(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (the folder a new file or folder would go in)."""
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_folder(folder: Path, name: str, path: PathLike) -> None:
    """``RatrackError`` unless a file can be created in the existing ``folder`` (or its nearest
    existing ancestor, where the missing folders would be made)."""
    base = _nearest_folder(folder)
    if not base.is_dir():
        raise RatrackError(f"{name} {path}: {base} is not a folder")
    probe = base / f".ratrack-probe-{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise RatrackError(
            f"{name} {path}: cannot write in {base} ({exc.strerror or exc})"
        ) from None
    with contextlib.suppress(OSError):
        probe.unlink()


def _flatten(
    inputs: Mapping[str, PathLike | Iterable[PathLike | None] | None],
) -> list[tuple[str, PathLike]]:
    out: list[tuple[str, PathLike]] = []
    for name, value in inputs.items():
        if value is None:
            continue
        if isinstance(value, (str, os.PathLike)):
            out.append((name, value))
        else:
            out += [(name, v) for v in value if v is not None]
    return out


def check_outputs(
    files: Mapping[str, PathLike | None] | None = None,
    *,
    folders: Mapping[str, PathLike | None] | None = None,
    inputs: Mapping[str, PathLike | Iterable[PathLike | None] | None] | None = None,
) -> None:
    """Refuse outputs the policy forbids, before any work starts (see the module docstring).

    ``files`` and ``folders`` map an option (``"--out"``) to the file or folder it names (None:
    not given); ``inputs`` maps an option or role (``"SOURCE"``) to the path, or paths, it reads.
    Raises ``RatrackError`` naming the option and the path.
    """
    file_outputs: dict[str, PathLike] = {k: v for k, v in (files or {}).items() if v is not None}
    folder_outputs: dict[str, PathLike] = {
        k: v for k, v in (folders or {}).items() if v is not None
    }
    given = _flatten(inputs or {})
    for name, path in file_outputs.items():
        if os.path.isdir(path):
            raise RatrackError(f"{name} {path}: is a folder; give a file name")
        if Path(path).name in ("", ".", ".."):
            raise RatrackError(f"{name} {path}: not a file name")
        if len(os.fsencode(Path(path).name)) > 255:
            raise RatrackError(f"{name} {path}: file name longer than 255 bytes")
    for name, path in folder_outputs.items():
        if os.path.exists(path) and not os.path.isdir(path):
            raise RatrackError(f"{name} {path}: is a file; give a folder")
    outputs = list(file_outputs.items()) + list(folder_outputs.items())
    for name, path in outputs:
        for role, source in given:
            if same_file(path, source):
                raise RatrackError(
                    f"{name} {path}: is also the input {role}; refusing to overwrite an input"
                )
    for i, (name, path) in enumerate(outputs):
        for other, other_path in outputs[:i]:
            if same_file(path, other_path):
                raise RatrackError(f"{other} and {name} name the same path {path}")
    for name, path in file_outputs.items():
        if _is_special(path):
            if not os.access(path, os.W_OK):
                raise RatrackError(f"{name} {path}: not writable")
            continue
        target = Path(_resolved(path))
        if target.exists() and not os.access(target, os.W_OK):
            raise RatrackError(f"{name} {path}: the file exists and is read-only")
        _probe_folder(target.parent, name, path)
    for name, path in folder_outputs.items():
        _probe_folder(Path(_resolved(path)), name, path)


# --- writing ----------------------------------------------------------------------------------


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    created = []
    for p in reversed(missing):
        try:
            p.mkdir()
        except FileExistsError:
            continue
        created.append(p)
    return created


_T = TypeVar("_T", bound="_Transaction")


class _Transaction:
    """What :class:`Output` and :class:`OutputFolder` share: ``with`` commits on a normal exit
    and aborts on an exception; an abort removes the folders made for the output (if empty)."""

    _created: list[Path]

    def commit(self) -> Path:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def _remove_folders(self) -> None:
        for folder in reversed(self._created):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only when empty
        self._created = []

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class Output(_Transaction):
    """One output file written under the policy: write to :attr:`write_path` (or the file from
    :meth:`open`), then :meth:`commit` or :meth:`abort`.

    ``with Output(path) as out:`` commits when the block ends normally and aborts when it
    raises (an interruption included: a file written in one piece is complete or absent).
    Streaming writers that keep finished frames on interruption call :meth:`commit` themselves.
    """

    def __init__(self, path: PathLike, *, name: str = "output") -> None:
        self.path = Path(path)
        self.name = name
        self.special = _is_special(path)
        # a symlink is followed: its target is replaced, the link stays
        self.target = Path(_resolved(path)) if self.path.is_symlink() else self.path
        self.temp: Path | None = None
        self._created: list[Path] = []
        self._file: IO | None = None
        self.done = False
        if self.special:
            return
        if self.target.is_dir():
            raise RatrackError(f"{name} {path}: is a folder; give a file name")
        try:
            self._created = _make_folders(self.target.parent)
            suffix = "".join(self.target.suffixes[-1:])
            for _ in range(100):
                temp = self.target.with_name(  # short enough wherever the target's name fits
                    f".{self.target.stem[:64]}.{secrets.token_hex(4)}.partial{suffix[:16]}"
                )
                try:
                    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
                except FileExistsError:
                    continue
                self.temp = temp
                break
            else:  # pragma: no cover - 100 random names taken
                raise FileExistsError(errno.EEXIST, "no free temporary name", str(self.target))
        except OSError as exc:
            self._remove_folders()
            raise RatrackError(f"{name} {path}: cannot write ({exc.strerror or exc})") from None

    @property
    def write_path(self) -> Path:
        """Where to write: the temporary file, or the special file itself."""
        return self.temp if self.temp is not None else self.target

    def open(self, mode: str = "w", **kwargs) -> IO:
        """Open :attr:`write_path` (``"w"``, ``"wb"``; text mode writes UTF-8 with ``\\n``)."""
        if "b" not in mode:
            kwargs.setdefault("encoding", "utf-8")
            kwargs.setdefault("newline", "\n")
        self._file = open(self.write_path, mode, **kwargs)  # closed by commit/abort
        return self._file

    def _close(self, *, quiet: bool = False) -> None:
        """Close the file from :meth:`open`; a failing final flush raises ``RatrackError``
        naming the output (or, ``quiet``, is ignored: the output is being dropped anyway)."""
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except OSError as exc:
                if not quiet:
                    self._file = None
                    self.abort()
                    raise RatrackError(
                        f"{self.name} {self.path}: cannot write ({exc.strerror or exc})"
                    ) from None

    def commit(self) -> Path:
        """Close the file and put it in place (rename over the target; a special file was
        written in place). Returns the path as given."""
        if self.done:
            return self.path
        self._close()
        self.done = True
        if self.temp is not None:
            try:
                if self.target.exists():  # keep the mode the user gave the file
                    os.chmod(self.temp, stat.S_IMODE(os.stat(self.target).st_mode))
                os.replace(self.temp, self.target)
            except OSError as exc:
                self._discard_temp()
                raise RatrackError(
                    f"{self.name} {self.path}: cannot write ({exc.strerror or exc})"
                ) from None
        return self.path

    def abort(self) -> None:
        """Close and remove what was written, and the folders this output created."""
        if self.done:
            return
        self._close(quiet=True)
        self.done = True
        self._discard_temp()

    def _discard_temp(self) -> None:
        if self.temp is not None:
            with contextlib.suppress(OSError):
                self.temp.unlink()
        self._remove_folders()


def write_text(path: PathLike, text: str, *, name: str = "output") -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` under the policy, in one piece."""
    with Output(path, name=name) as out:
        with out.open("w") as f:
            f.write(text)
    return Path(path)


def write_bytes(path: PathLike, data: bytes, *, name: str = "output") -> Path:
    """Write ``data`` to ``path`` under the policy, in one piece."""
    with Output(path, name=name) as out:
        with out.open("wb") as f:
            f.write(data)
    return Path(path)


class OutputFolder(_Transaction):
    """A folder written as a whole: filled under a hidden temporary name beside it, renamed into
    place on :meth:`commit` (a folder of that name already there is replaced), removed on
    :meth:`abort`. Used for one exported sequence, so no reader ever sees half of one."""

    def __init__(self, path: PathLike, *, name: str = "output") -> None:
        import tempfile

        self.path = Path(path)
        self.name = name
        self.done = False
        try:
            self._created = _make_folders(self.path.parent)
            temp = tempfile.mkdtemp(
                prefix=f".{self.path.name}.", suffix=".partial", dir=self.path.parent
            )
            self.temp = Path(temp)
        except OSError as exc:
            raise RatrackError(f"{name} {path}: cannot write ({exc.strerror or exc})") from None

    def commit(self) -> Path:
        import shutil

        if self.done:
            return self.path
        self.done = True
        os.chmod(self.temp, 0o777 & ~_umask())
        old = None
        if self.path.exists():
            if not self.path.is_dir():
                shutil.rmtree(self.temp, ignore_errors=True)
                raise RatrackError(f"{self.name} {self.path}: is a file; give a folder")
            old = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.old")
            os.replace(self.path, old)
        os.replace(self.temp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.path

    def abort(self) -> None:
        import shutil

        if self.done:
            return
        self.done = True
        shutil.rmtree(self.temp, ignore_errors=True)
        self._remove_folders()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
