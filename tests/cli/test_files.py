"""Atomic writes (temporary files, signals, modes, links) and checks of input paths."""

import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import threading

import numpy as np
import pytest

from jaxthresh.cli import files
from jaxthresh.cli.files import float32_list, write_json_atomic


def test_write_json_atomic_writes_and_replaces(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": [1.5, 2]})
    assert json.loads(path.read_text()) == {"a": [1.5, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.json"
    write_json_atomic(path, {"a": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"a": object()})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


# -- A failed write: one ValueError naming the flag, the path as given, and why. ----------


def _writes(number=None):
    def write(stream):
        stream.write(b"new")
        if number is not None:
            raise OSError(number, os.strerror(number))

    return write


WRITE_FAILURES = {
    "a missing folder": ("nodir/out.json", None, "folder nodir does not exist"),
    "missing folders": ("a/b/out.json", None, "folder a/b does not exist"),
    "a file for a folder": ("file/out.json", None, "file is not a folder"),
    "a folder": ("sub", None, "it is a folder; give a file name"),
    "no space": ("out.json", errno.ENOSPC, "no space left on the device"),
    "a file size limit": (
        "out.json",
        errno.EFBIG,
        r"the file is too large \(it reached the file size limit, ulimit -f\)",
    ),
    "a disk quota": ("out.json", errno.EDQUOT, "the disk quota is exceeded"),
    "another error": ("out.json", errno.EIO, "Input/output error"),
}


@pytest.mark.parametrize("case", list(WRITE_FAILURES))
def test_a_failed_write_says_why_and_leaves_nothing(tmp_path, monkeypatch, case):
    path, number, why = WRITE_FAILURES[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.json").write_text("old")
    (tmp_path / "file").write_text("a file")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=rf"^curves: cannot write {re.escape(path)}: {why}$"):
        files.write_atomic(path, _writes(number), "curves")
    assert sorted(os.listdir(tmp_path)) == ["file", "out.json", "sub"]
    assert os.listdir(tmp_path / "sub") == []
    assert (tmp_path / "out.json").read_text() == "old"
    if number is None:
        with pytest.raises(ValueError, match=rf"^output: cannot write {re.escape(path)}: {why}$"):
            write_json_atomic(path, [1])
        if case != "a folder":  # check_writable says that in its own words
            with pytest.raises(ValueError, match=rf"^out: cannot write {re.escape(path)}: {why}$"):
                files.check_writable(path, "out")


# Loads files.py alone, and writes 5000 bytes under a file size limit of 1000 (SIGXFSZ,
# which would end the process, ignored: the write fails with EFBIG instead).
FILE_SIZE_SCRIPT = """
import importlib.util, resource, signal, sys
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
try:
    files.write_atomic(sys.argv[2], lambda stream: stream.write(b"x" * 5000))
except ValueError as error:
    print(error)
"""


def test_a_file_size_limit_is_named(tmp_path):
    path = tmp_path / "out.csv"
    path.write_bytes(b"old")
    ran = subprocess.run(
        [sys.executable, "-c", FILE_SIZE_SCRIPT, FILES_PY, "out.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (ran.returncode, ran.stderr) == (0, "")
    assert ran.stdout.splitlines() == [
        "output: cannot write out.csv: the file is too large (it reached the file size limit, "
        "ulimit -f)"
    ]
    assert os.listdir(tmp_path) == ["out.csv"] and path.read_bytes() == b"old"


def test_float32_list_round_trips_float32():
    values = np.array([[0.3, 1 / 3], [1e-7, 2.5]], np.float32)
    listed = float32_list(values)
    assert listed[0][0] == 0.3
    np.testing.assert_array_equal(np.asarray(listed, np.float32), values)


def test_written_files_follow_the_umask(tmp_path):
    path = tmp_path / "out.json"
    previous = os.umask(0o022)
    try:
        write_json_atomic(path, [1])
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644


# -- write_atomic: temporary files, signals, modes, links. --------------------------------

FILES_PY = files.__file__

# Loads files.py alone (it needs only NumPy), writes "new" over a file holding "old", and
# sends itself a signal in the middle of the write.
SIGNAL_SCRIPT = """
import importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location("files", sys.argv[1])
files = importlib.util.module_from_spec(spec)
spec.loader.exec_module(files)
path, signum, setting = sys.argv[2], getattr(signal, sys.argv[3]), sys.argv[4]
if setting == "default":  # whatever the parent left (a test runner may ignore SIGINT)
    default = signal.default_int_handler if signum == signal.SIGINT else signal.SIG_DFL
    signal.signal(signum, default)
if setting == "ignored":
    signal.signal(signum, signal.SIG_IGN)
if setting == "returning handler":
    signal.signal(signum, lambda *args: None)
before = signal.getsignal(signum)

def write(stream):
    stream.write(b"new, part 1;")
    os.kill(os.getpid(), signum)
    for _ in range(1000):
        stream.write(b" new, part 2")

try:
    files.write_atomic(path, write)
finally:
    print("handler restored:", signal.getsignal(signum) == before, flush=True)
"""


@pytest.mark.parametrize(
    "signame, setting, returncode, written, said",
    [
        ("SIGTERM", "default", -signal.SIGTERM, False, ""),
        ("SIGHUP", "default", -signal.SIGHUP, False, ""),
        ("SIGINT", "default", -signal.SIGINT, False, "KeyboardInterrupt"),
        ("SIGTERM", "returning handler", 1, False, "InterruptedError: [Errno 4] output: SIGTERM"),
        ("SIGTERM", "ignored", 0, True, ""),
    ],
)
def test_a_signal_during_a_write_removes_the_temporary_file(
    tmp_path, signame, setting, returncode, written, said
):
    path = tmp_path / "out.csv"
    path.write_bytes(b"old")
    ran = subprocess.run(
        [sys.executable, "-c", SIGNAL_SCRIPT, FILES_PY, str(path), signame, setting],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == returncode, ran.stderr
    assert said in ran.stderr
    assert os.listdir(tmp_path) == ["out.csv"]  # no temporary file
    assert path.read_bytes().startswith(b"new, part 1;") if written else path.read_bytes() == b"old"
    if returncode >= 0:  # the process lived on: the handler it had is back
        assert "handler restored: True" in ran.stdout


def test_handlers_are_restored_after_a_write(tmp_path):
    signals = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP]
    before = [signal.getsignal(s) for s in signals]
    write_json_atomic(tmp_path / "out.json", [1])
    with pytest.raises(TypeError):
        write_json_atomic(tmp_path / "out.json", [object()])
    assert [signal.getsignal(s) for s in signals] == before


def test_a_write_in_another_thread_works(tmp_path):
    """Signal handlers can only be set in the main thread: other threads write without."""
    errors = []

    def work():
        try:
            write_json_atomic(tmp_path / "out.json", {"thread": True})
        except Exception as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == []
    assert json.loads((tmp_path / "out.json").read_text()) == {"thread": True}


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_stale_temporary_files_are_removed_by_the_next_write(tmp_path):
    """A writer killed by SIGKILL leaves its temporary file; the next write in the folder
    removes it (its pid is gone), and leaves those of live writers, of other hosts, and
    other files."""
    host = files._HOST
    live_writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".out.csv.jaxthresh-{host}-{_dead_pid()}-0123abcd.tmp",
            "dead, other output": f".p.npy.jaxthresh-{host}-{_dead_pid()}-89abcdef.tmp",
            "this pid, an earlier process": f".out.csv.jaxthresh-{host}-{os.getpid()}-00000000.tmp",
            "live": f".out.csv.jaxthresh-{host}-{live_writer.pid}-0123abcd.tmp",
            "other host": f".out.csv.jaxthresh-{host}x-{_dead_pid()}-0123abcd.tmp",
            "not ours": ".out.csv.12345.tmp",
        }
        for name in names.values():
            (tmp_path / name).write_text("partial")
        assert sorted(files.stale_temporaries(tmp_path)) == sorted(
            str(tmp_path / names[k])
            for k in ("dead", "dead, other output", "this pid, an earlier process")
        )
        write_json_atomic(tmp_path / "out.csv", [1])
    finally:
        live_writer.kill()
        live_writer.wait()
    kept = {names[k] for k in ("live", "other host", "not ours")}
    assert set(os.listdir(tmp_path)) == kept | {"out.csv"}


def test_temporary_names_are_recognized():
    name = os.path.basename(files.temporary_name("/some/folder/pre.dictions.csv"))
    assert name.startswith(".pre.dictions.csv.jaxthresh-") and name.endswith(".tmp")
    match = files._TEMPORARY.match(name)
    assert match and int(match["pid"]) == os.getpid() and match["host"] == files._HOST


def test_a_replaced_file_keeps_its_mode(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    os.chmod(path, 0o604)
    write_json_atomic(path, [1])
    assert stat.S_IMODE(path.stat().st_mode) == 0o604
    assert json.loads(path.read_text()) == [1]


def test_a_link_is_followed(tmp_path):
    (tmp_path / "target.json").write_text("old")
    os.symlink("target.json", tmp_path / "link.json")
    write_json_atomic(tmp_path / "link.json", [2])
    assert os.readlink(tmp_path / "link.json") == "target.json"
    assert json.loads((tmp_path / "target.json").read_text()) == [2]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.mkdir(), "is a folder, not a file"),
        (lambda p: os.mkfifo(p), r"is not a regular file \(it is a FIFO\)"),
        (lambda p: os.symlink("nowhere", p), r"is a broken symbolic link \(to nowhere\)"),
        (lambda p: None, "file not found"),
    ],
)
def test_check_input_file(tmp_path, make, message):
    path = tmp_path / "input"
    make(path)
    with pytest.raises(ValueError, match=f"^scores: .*{message}"):
        files.check_input_file(path, "scores")


def test_same_file(tmp_path):
    (tmp_path / "a").write_text("a")
    os.link(tmp_path / "a", tmp_path / "hard")
    os.symlink("a", tmp_path / "soft")
    (tmp_path / "sub").mkdir()
    for other in ("a", "hard", "soft", "sub/../a", "./a"):
        assert files.same_file(tmp_path / "a", os.path.join(tmp_path, other)), other
    assert not files.same_file(tmp_path / "a", tmp_path / "b")
    assert not files.same_file(tmp_path / "b", tmp_path / "c")
