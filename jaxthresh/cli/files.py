"""Files written whole or not at all."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from typing import Any, NamedTuple

import numpy as np


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    """Writes ``obj`` as JSON to ``path`` atomically (see :func:`write_atomic`): readers see
    the old file or the whole new one, never a partial one, and a failure (e.g. an object
    JSON cannot encode) leaves ``path`` untouched."""
    text = json.dumps(obj, indent=2) + "\n"
    write_atomic(path, lambda stream: stream.write(text.encode()))


def float32_list(array) -> list:
    """Nested lists of the shortest decimals that read back as the same float32 values
    (``0.3``, not ``0.30000001192092896``), for JSON."""
    return np.asarray(array, np.float32).astype(str).astype(float).tolist()


def write_atomic(path: str | os.PathLike, write: Any) -> None:
    """Calls ``write(stream)`` on a binary temporary file beside ``path``, then renames it
    over ``path``; on any failure ``path`` is untouched and the temporary file removed."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes it private (0600)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself reaches the disk
    finally:
        os.close(directory)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: str | os.PathLike, name: str = "output") -> None:
    """``ValueError`` naming ``name`` unless ``path``'s folder exists and is writable: a
    check before long work, so that it is not lost at the end."""
    path = os.fspath(path)
    if os.path.isdir(path) or path.endswith(os.sep):
        raise ValueError(f"{name}: {path} is a folder; give a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise ValueError(f"{name}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{name}: folder {folder} is not writable")


class Matrix(NamedTuple):
    """A matrix read by :func:`load_matrix`.

    Attributes:
      values: the array, ``[rows, columns]``.
      class_names: the column names (CSV header, or ``class_names`` in an .npz), or None.
    """

    values: np.ndarray
    class_names: list[str] | None


def load_matrix(path: str | os.PathLike, *, name: str, key: str | None = None) -> Matrix:
    """Reads a 2-D matrix from ``.npy``, ``.npz`` (array ``key``) or ``.csv`` (a header row of
    class names, then one row of numbers per line).

    Args:
      path: the file.
      name: what the matrix is ("scores", "labels"), for error messages.
      key: the array's name inside an ``.npz`` file.

    Raises:
      ValueError: a missing, unreadable or malformed file, naming ``name`` and ``path``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"{name}: file not found: {path}")
    extension = os.path.splitext(path)[1].lower()
    try:
        if extension == ".npy":
            return Matrix(np.load(path, allow_pickle=False), None)
        if extension == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                if key not in archive:
                    raise ValueError(
                        f"{name}: {path} has no array {key!r} (it has: "
                        f"{', '.join(archive.files)}); choose one with --{name}_key"
                    )
                names = archive["class_names"] if "class_names" in archive else None
                return Matrix(archive[key], None if names is None else class_name_list(names))
        if extension == ".csv":
            return _load_csv(path, name)
    except ValueError as error:
        if str(error).startswith(f"{name}:"):
            raise
        raise ValueError(f"{name}: cannot read {path}: {error}") from None
    except Exception as error:  # a corrupt file can raise almost anything (BadZipFile, ...)
        raise ValueError(f"{name}: cannot read {path}: {error!r}") from None
    raise ValueError(f"{name}: unknown file type {extension!r} of {path}; use .npy, .npz or .csv")


def class_name_list(names, name: str = "class_names") -> list[str]:
    """Class names as a list of ``str`` (bytes decoded as UTF-8), from any 1-D sequence."""
    array = np.asarray(names)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a list of names, got shape {array.shape}")
    return [
        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for value in array.tolist()
    ]


def _load_csv(path: str, name: str) -> Matrix:
    with open(path, newline="", encoding="utf-8-sig") as stream:
        rows = list(csv.reader(stream))
    if not rows:
        raise ValueError(f"{name}: {path} is empty")
    header, body = [cell.strip() for cell in rows[0]], [r for r in rows[1:] if r]
    for number, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise ValueError(
                f"{name}: {path} line {number} has {len(row)} values, the header has {len(header)}"
            )
    try:
        values = np.array(body, dtype=np.float64).reshape(len(body), len(header))
    except ValueError as error:
        raise ValueError(f"{name}: {path} holds a value that is not a number ({error})") from None
    return Matrix(values, header)


def save_matrix(path: str | os.PathLike, values: np.ndarray, class_names=None) -> None:
    """Writes ``values`` atomically as ``.npy`` or as ``.csv`` (with a header of
    ``class_names``, or ``class_0, class_1, ...``)."""
    extension = os.path.splitext(os.fspath(path))[1].lower()
    values = np.asarray(values)
    if extension == ".npy":
        write_atomic(path, lambda stream: np.save(stream, values, allow_pickle=False))
    elif extension == ".csv":
        names = class_names or [f"class_{i}" for i in range(values.shape[1])]

        def write(stream):
            text = io.TextIOWrapper(stream, newline="")
            writer = csv.writer(text)
            writer.writerow(names)
            writer.writerows(values.tolist())
            text.flush()
            text.detach()

        write_atomic(path, write)
    else:
        raise ValueError(f"output: unknown file type {extension!r}; use .npy or .csv")
