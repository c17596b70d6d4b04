"""Files the tools read and write: inputs checked before use, outputs whole or not at all.

Outputs (:func:`write_atomic`, used by every writer of the tools and experiments):

* the content goes to a temporary file beside the output, which is then renamed over it:
  a reader sees the old file or the whole new one, never a part;
* a failure, or SIGTERM, SIGINT or SIGHUP during the write, removes the temporary file and
  leaves the output as it was; the signal then takes its usual course (SIGTERM still ends
  the process, SIGINT still raises ``KeyboardInterrupt``); an ignored signal stays ignored;
* SIGKILL cannot be caught, so temporary files carry the host and process id of their
  writer (``.<name>.jaxthresh-<host>-<pid>-<token>.tmp``): each write first removes the
  temporary files in its folder left by writers of this host that are no longer alive;
* a replaced file keeps its permission bits (and, where allowed, its owner and group); a
  new one gets ``0o666`` less the umask;
* a symbolic link is followed: its target is replaced and the link stays;
* a failure to write is one ``ValueError`` naming the flag or argument and the path as
  given, and saying why: a missing folder, no space left, the file size limit...

Inputs: :func:`check_input_file` says what is wrong with a path that is not a readable
regular file (missing, a folder, a FIFO or device, unreadable), and
:func:`refuse_overwriting_inputs` refuses an output that names an input file, however
spelled (symbolic links, ``./``, hard links), before any work.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import signal
import socket
import stat
import threading
from collections.abc import Callable, Iterable
from typing import Any, BinaryIO

import numpy as np

#: Signals that abandon a write cleanly (SIGKILL cannot be caught).
_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name)
)
_HOST = re.sub(r"[^A-Za-z0-9_.]", "_", socket.gethostname()) or "host"
_TEMPORARY = re.compile(
    r"^\.(?P<name>.+)\.jaxthresh-(?P<host>[A-Za-z0-9_.]+)-(?P<pid>[0-9]+)-[0-9a-f]{8}\.tmp$"
)
#: The temporary files this process is writing now (another thread may be writing one).
_WRITING: set[str] = set()


def write_json_atomic(path: str | os.PathLike, obj: Any, name: str = "output") -> None:
    """Writes ``obj`` as JSON to ``path`` atomically (see :func:`write_atomic`): readers see
    the old file or the whole new one, never a partial one, and a failure (e.g. an object
    JSON cannot encode) leaves ``path`` untouched."""
    text = json.dumps(obj, indent=2) + "\n"
    write_atomic(path, lambda stream: stream.write(text.encode()), name)


def float32_list(array) -> list:
    """Nested lists of the shortest decimals that read back as the same float32 values
    (``0.3``, not ``0.30000001192092896``), for JSON."""
    return np.asarray(array, np.float32).astype(str).astype(float).tolist()


def temporary_name(path: str | os.PathLike) -> str:
    """A new temporary file name beside ``path``, recognizable by :func:`stale_temporaries`."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    token = secrets.token_hex(4)
    return os.path.join(folder, f".{name}.jaxthresh-{_HOST}-{os.getpid()}-{token}.tmp")


def stale_temporaries(folder: str | os.PathLike) -> list[str]:
    """The temporary files in ``folder`` whose writer, a process of this host, has ended
    without removing them (killed by SIGKILL, or a crash of the machine)."""
    stale = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return stale
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if not match or match["host"] != _HOST:
            continue
        pid = int(match["pid"])
        if pid == os.getpid():
            gone = entry.path not in _WRITING  # an earlier process that had this pid
        else:
            gone = not _alive(pid)
        if gone and entry.is_file(follow_symlinks=False):
            stale.append(entry.path)
    return stale


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, as another user's process
        return True
    return True


def write_atomic(
    path: str | os.PathLike, write: Callable[[BinaryIO], Any], name: str = "output"
) -> None:
    """Calls ``write(stream)`` on a binary temporary file beside ``path``, then renames it
    over ``path`` (see the module docstring): on any failure, or a SIGTERM, SIGINT or
    SIGHUP meanwhile, ``path`` is untouched and the temporary file removed.

    Raises:
      ValueError: the file cannot be written (an ``OSError``: no folder, no space...):
        ``<name>: cannot write <path>: <why>``.
    """
    given = os.fspath(path)
    path = os.path.realpath(given)  # a link's target is replaced, not the link
    folder = os.path.dirname(path)
    for stale in stale_temporaries(folder):
        with contextlib.suppress(OSError):
            os.unlink(stale)
    try:
        previous = os.stat(path)
    except OSError:  # none yet (or no folder: the write says so)
        previous = None
    temporary = temporary_name(path)
    _WRITING.add(temporary)
    try:
        with _SignalsAbandonWrite(path) as guard:
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
                with os.fdopen(os.open(temporary, flags, 0o600), "wb") as stream:
                    write(stream)
                    stream.flush()
                    os.fsync(stream.fileno())
                _copy_mode(temporary, previous)
                guard.check()  # a handler that returned: never replace after a signal
                os.replace(temporary, path)
                guard.written = True
            except OSError as error:
                _remove(temporary)
                raise ValueError(f"{name}: cannot write {given}: {_why(error, given)}") from None
            except BaseException:
                _remove(temporary)
                raise
    finally:
        _WRITING.discard(temporary)
    with contextlib.suppress(OSError):  # the rename itself reaches the disk
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _copy_mode(temporary: str, previous: os.stat_result | None) -> None:
    """The permissions (and owner and group, where allowed) of the file being replaced;
    a new file's are 0o666 less the umask (mkstemp-like creation makes it 0o600)."""
    if previous is None:
        os.chmod(temporary, 0o666 & ~_umask())
        return
    with contextlib.suppress(OSError):
        os.chown(temporary, previous.st_uid, previous.st_gid)
    os.chmod(temporary, stat.S_IMODE(previous.st_mode))


def _remove(temporary: str) -> None:
    """Removes ``temporary`` (if it exists), even if a signal arrives meanwhile."""
    for _ in range(2):  # the handler raises once; the second try runs undisturbed
        try:
            with contextlib.suppress(OSError):  # none made (no folder...)
                os.unlink(temporary)
            return
        except _Interrupted:
            continue


class _Interrupted(BaseException):
    """Raised by the signal handler of :func:`write_atomic` to abandon the write."""


class _SignalsAbandonWrite:
    """While active (main thread only), SIGTERM, SIGINT and SIGHUP raise
    :class:`_Interrupted` (once) instead of acting; on exit the previous handlers come back
    and the first signal received is raised again, to act as it would have."""

    def __init__(self, path: str):
        self.path = path
        self.received: list[int] = []
        self.previous: dict[int, Any] = {}
        self.written = False  # the rename was done (a signal may still come just after)

    def _handler(self, signum, frame) -> None:
        self.received.append(signum)
        if len(self.received) == 1:
            raise _Interrupted(signum)

    def check(self) -> None:
        if self.received:
            raise _Interrupted(self.received[0])

    def __enter__(self) -> _SignalsAbandonWrite:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                handler = signal.getsignal(signum)
                if handler is signal.SIG_IGN or handler is None:
                    continue  # ignored (nohup), or set outside Python: left alone
                self.previous[signum] = signal.signal(signum, self._handler)
        return self

    def __exit__(self, kind, error, traceback) -> bool:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)
        if not self.received:
            return False
        signum = self.received[0]
        signal.raise_signal(signum)  # the default action ends the process here
        # A Python handler that returned: say whether the write was done.
        if self.written and (kind is None or issubclass(kind, _Interrupted)):
            return True
        name = signal.Signals(signum).name
        raise InterruptedError(
            errno.EINTR, f"output: {name} while writing {self.path}; it was not written"
        ) from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


#: Why a write failed, by errno, where its own words (or the folder) do not say it well.
_WRITE_ERRORS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is too large (it reached the file size limit, ulimit -f)",
    errno.EROFS: "the file system is read-only",
    errno.EISDIR: "it is a folder; give a file name",
}


def _why(error: OSError, path: str) -> str:
    """What an ``OSError`` of writing ``path`` means, in words."""
    return _WRITE_ERRORS.get(error.errno) or _folder_problem(path) or error.strerror or str(error)


def _folder_problem(path: str) -> str | None:
    """What is wrong with the folder of ``path`` for writing (as given where it is the
    folder meant, else resolved through links), or None."""
    folder = os.path.dirname(os.path.realpath(path))
    given = os.path.dirname(path) or "."
    shown = given if os.path.realpath(given) == folder else folder
    if not os.path.exists(folder):
        return f"folder {shown} does not exist"
    if not os.path.isdir(folder):
        return f"{shown} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {shown} is not writable"
    return None


def check_writable(path: str | os.PathLike, name: str = "output") -> None:
    """``ValueError`` naming ``name`` unless ``path``'s folder exists and is writable: a
    check before long work, so that it is not lost at the end."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(os.sep):
        raise ValueError(f"{name}: {path} is a folder; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):
        raise ValueError(f"{name}: {path} is not a regular file ({_kind(os.stat(path))})")
    if problem := _folder_problem(path):
        raise ValueError(f"{name}: cannot write {path}: {problem}")


def _kind(status: os.stat_result) -> str:
    mode = status.st_mode
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a file"


def check_input_file(path: str | os.PathLike, name: str) -> str:
    """``path`` if it is a readable regular file, else ``ValueError`` naming ``name`` and
    saying what it is instead (missing, a broken link, a folder, a FIFO, a device...)."""
    path = os.fspath(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            target = os.readlink(path)
            raise ValueError(f"{name}: {path} is a broken symbolic link (to {target})") from None
        raise ValueError(f"{name}: file not found: {path}") from None
    except OSError as error:  # permission denied on a folder, a loop of links, ...
        raise ValueError(f"{name}: cannot read {path}: {error.strerror}") from None
    if stat.S_ISDIR(status.st_mode):
        raise ValueError(f"{name}: {path} is a folder, not a file")
    if not stat.S_ISREG(status.st_mode):
        raise ValueError(f"{name}: {path} is not a regular file (it is {_kind(status)})")
    if not os.access(path, os.R_OK):
        raise ValueError(f"{name}: cannot read {path}: permission denied")
    return path


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name one file: the same path once links and ``..`` are resolved,
    or (both existing) the same file on disk (hard links, case-insensitive systems)."""
    if os.path.realpath(first) == os.path.realpath(second):
        return True
    try:
        return os.path.samefile(first, second)
    except OSError:
        return False


def refuse_overwriting_inputs(
    outputs: Iterable[tuple[str, str]], inputs: Iterable[tuple[str, str | None]]
) -> None:
    """``ValueError`` naming both flags if an output file is an input file, or if two
    outputs are one file.

    Args:
      outputs: ``(flag, path)`` of each file that will be written.
      inputs: ``(flag, path)`` of each input; a None path (flag not given) is skipped.
    """
    outputs = list(outputs)
    inputs = [(flag, path) for flag, path in inputs if path]
    for number, (out_flag, out_path) in enumerate(outputs):
        for in_flag, in_path in inputs:
            if same_file(out_path, in_path):
                raise ValueError(
                    f"{out_flag}: --{out_flag} ({out_path}) is the --{in_flag} file "
                    f"({in_path}); writing it would destroy the input: choose another "
                    "output file"
                )
        for other_flag, other_path in outputs[:number]:
            if same_file(out_path, other_path):
                raise ValueError(
                    f"{out_flag}: --{out_flag} ({out_path}) is also written by "
                    f"--{other_flag} ({other_path}): choose another output file"
                )
