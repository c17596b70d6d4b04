"""Score and label matrices in files: ``.npy``, ``.npz`` and ``.csv``, read and written.

Reading (:func:`load_matrix`) says plainly what is wrong with a file that is not what its
name claims: a text or gzip file named ``.npy``, an archive that is not a zip, arrays of
Python objects (which are never loaded: loading them could run code), a CSV whose first row
is numbers (a missing header would silently turn the first row into class names, so it is
refused unless ``header=False``), rows of different lengths, cells that are not numbers.
Each problem is one ``ValueError`` naming the input and the file.

A CSV header whose first cell is empty names no class: its column holds row names, as
pandas' ``DataFrame.to_csv`` (the index) and R's ``write.csv`` write them. That column is
kept apart (:attr:`Matrix.row_names`), so that a DataFrame saved with its index reads
back as its own columns, and the rows of labels are matched to those of the scores by name
(:func:`match_rows`) where both files have row names; where one or neither has them, rows
pair by position. Label cells ``True`` and ``False`` (pandas' bool columns; any case, as R
writes ``TRUE``) read as 1 and 0.

A cell that is not a number is named with its line and column, and with the likely cause
where there is one: a file delimited by ``;`` or tabs (only commas are read), label words
other than 0/1 and True/False, a first column of row names under a non-empty header cell,
a header row read as data (``--no_header``).

Large matrices are read and written without copies of the whole: an ``.npy`` file is read
into one array of its own dtype (float32 stays float32); a CSV file is parsed a block of
rows at a time into one preallocated float64 array; :func:`write_matrix` writes ``.npy`` or
``.csv`` from blocks of rows (0/1 predictions are formatted with NumPy, not as Python
lists).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from jaxthresh.cli.files import check_input_file, write_atomic

_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip archive; an empty one
#: Rows of CSV parsed at a time.
CSV_BLOCK_ROWS = 4096
#: Label cells read as numbers besides numbers, in any case (pandas writes bool columns as
#: True and False, R as TRUE and FALSE).
_BOOLEANS = {"true": "1", "false": "0"}


class Matrix(NamedTuple):
    """A matrix read by :func:`load_matrix`.

    Attributes:
      values: the array, ``[rows, columns]``.
      class_names: the column names (CSV header, or ``class_names`` in an .npz), or None.
      row_names: the row names of a CSV file whose header starts with an empty cell (a
        DataFrame's index), or None.
      path: the file it was read from.
    """

    values: np.ndarray
    class_names: list[str] | None
    row_names: list[str] | None = None
    path: str = ""


def load_matrix(
    path: str | os.PathLike, *, name: str, key: str | None = None, header: bool = True
) -> Matrix:
    """Reads a 2-D matrix from ``.npy``, ``.npz`` (array ``key``) or ``.csv`` (a header row of
    class names, then one row of numbers per line).

    Args:
      path: the file.
      name: what the matrix is ("scores", "labels"), for error messages.
      key: the array's name inside an ``.npz`` file.
      header: whether a CSV file starts with a header row of class names. With ``False``,
        every row is data and the matrix has no class names.

    Raises:
      ValueError: a missing, unreadable or malformed file, naming ``name`` and ``path``.
    """
    path = check_input_file(path, name)
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".npy", ".npz", ".csv"):
        raise ValueError(
            f"{name}: unknown file type {extension!r} of {path}; use .npy, .npz or .csv"
        )
    try:
        if extension == ".npy":
            _check_start(path, name, ".npy", (_NPY_MAGIC,))
            matrix = Matrix(_array(np.load(path, allow_pickle=False), path, name), None)
        elif extension == ".npz":
            _check_start(path, name, ".npz", _ZIP_MAGICS)
            matrix = _load_npz(path, name, key)
        else:
            matrix = _load_csv(path, name, header)
        return matrix._replace(path=path)
    except UnicodeDecodeError:
        with open(path, "rb") as stream:
            start = stream.read(16)
        raise ValueError(
            f"{name}: {path} is not a CSV text file in UTF-8 ({describe_start(start)})"
        ) from None
    except ValueError as error:
        if str(error).startswith(f"{name}:"):
            raise
        raise ValueError(f"{name}: cannot read {path}: {_plain(error)}") from None
    except MemoryError:
        size = os.path.getsize(path)
        raise ValueError(f"{name}: not enough memory to read {path} ({size} bytes)") from None
    except Exception as error:  # a corrupt file can raise almost anything (BadZipFile, ...)
        raise ValueError(f"{name}: cannot read {path}: {_plain(error)}") from None


def _plain(error: Exception) -> str:
    """An error of NumPy or zipfile as a message; never NumPy's advice to load pickles."""
    text = str(error)
    if "pickle" in text.lower():
        return "it holds Python objects (dtype object), not numbers"
    return text or repr(error)


def _check_start(path: str, name: str, kind: str, magics: tuple[bytes, ...]) -> None:
    """Refuses a file that does not start as a ``kind`` file must, saying what it starts
    with instead."""
    with open(path, "rb") as stream:
        start = stream.read(16)
    if any(start.startswith(magic) for magic in magics):
        return
    raise ValueError(f"{name}: {path} is not a NumPy {kind} file ({describe_start(start)})")


def describe_start(start: bytes) -> str:
    """What a file is, from its first bytes: empty, gzip, zip, .npy, text, or its bytes."""
    if not start:
        return "it is empty"
    if start.startswith(b"\x1f\x8b"):
        return "it is gzip-compressed; decompress it first"
    if start.startswith(_ZIP_MAGICS):
        return "it is a zip archive, like an .npz file"
    if start.startswith(_NPY_MAGIC):
        return "it is an .npy file"
    try:
        text = start.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if (
        text is not None
        and text.replace("\n", " ").replace("\r", " ").replace("\t", " ").isprintable()
    ):
        return f"it starts with the text {text!r}"
    return f"it starts with the bytes {start[:8].hex(' ')}"


def _array(value, path: str, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ValueError(f"{name}: {path} does not hold a NumPy array")
    if value.dtype.hasobject:
        raise ValueError(f"{name}: {path} holds Python objects (dtype object), not numbers")
    return value


def _load_npz(path: str, name: str, key: str | None) -> Matrix:
    with np.load(path, allow_pickle=False) as archive:
        if key not in archive:
            raise ValueError(
                f"{name}: {path} has no array {key!r} (it has: "
                f"{', '.join(archive.files) or 'none'}); choose one with --{name}_key"
            )
        values = _array(archive[key], f"{path} (array {key!r})", name)
        names = None
        if "class_names" in archive:
            names = class_name_list(
                _array(archive["class_names"], f"{path} (class_names)", name), name
            )
        return Matrix(values, names)


def class_name_list(names, name: str = "class_names") -> list[str]:
    """Class names as a list of ``str`` (bytes decoded as UTF-8), from any 1-D sequence."""
    array = np.asarray(names)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a list of class names, got shape {array.shape}")
    return [
        value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        for value in array.tolist()
    ]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _line_count(path: str) -> int:
    """The number of line breaks (``\\r\\n``, ``\\n`` or ``\\r``), plus one: at least the
    number of CSV rows, whatever their line endings."""
    count, previous = 1, b""
    with open(path, "rb") as stream:
        while block := stream.read(1 << 24):
            count += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            count -= previous == b"\r" and block[:1] == b"\n"  # a \r\n split between blocks
            previous = block[-1:]
    return count


def _load_csv(path: str, name: str, header: bool) -> Matrix:
    with open(path, newline="", encoding="utf-8-sig") as stream:
        reader = csv.reader(stream)
        first = next((row for row in reader if row), None)
        if first is None:
            raise ValueError(f"{name}: {path} is empty")
        first = [cell.strip() for cell in first]
        n_columns = len(first)
        # An empty first header cell: the first column holds row names (a pandas index).
        skip = int(header and n_columns > 1 and first[0] == "")
        if header and all(_is_number(cell) for cell in first[skip:]):
            raise ValueError(
                f"{name}: {path} has no header row (its first row is numbers); add a row "
                "of class names, or pass --no_header"
            )
        values = np.empty((_line_count(path), n_columns - skip), np.float64)
        row_names = [] if skip else None
        n_rows = 0
        if not header:
            values[0] = _parse_block([first], [reader.line_num], path, name, 0, first=True)
            n_rows = 1
        block, lines = [], []
        for row in reader:
            if not row:
                continue
            if len(row) != n_columns:
                raise ValueError(
                    f"{name}: {path} line {reader.line_num} has {len(row)} values, "
                    f"{'the header has' if header else 'the first row has'} {n_columns}"
                    f"{_delimiter_hint([*first, *row])}"
                )
            if skip:
                row_names.append(row[0].strip())
                row = row[1:]
            block.append(row)
            lines.append(reader.line_num)
            if len(block) == CSV_BLOCK_ROWS:
                values[n_rows : n_rows + len(block)] = _parse_block(block, lines, path, name, skip)
                n_rows += len(block)
                block, lines = [], []
        if block:
            values[n_rows : n_rows + len(block)] = _parse_block(block, lines, path, name, skip)
            n_rows += len(block)
    # The rows beyond n_rows were never written, so their memory was never touched.
    return Matrix(values[:n_rows], first[skip:] if header else None, row_names)


def _parse_block(
    block: list[list[str]],
    lines: list[int],
    path: str,
    name: str,
    skip: int,
    *,
    first: bool = False,
) -> np.ndarray:
    """The rows of ``block`` as float64; a cell that is not one, named with its likely
    cause. ``first``: the block is the first row of a file without a header."""
    try:
        return np.array(block, dtype=np.float64)
    except ValueError:
        pass
    if name == "labels":  # pandas writes bool columns as True and False
        text = np.char.lower(np.char.strip(np.array(block, dtype=str)))
        for word, digit in _BOOLEANS.items():
            text = np.where(text == word, digit, text)
        try:
            return text.astype(np.float64)
        except ValueError:
            pass
    for row, line in zip(block, lines, strict=True):
        for column, cell in enumerate(row):
            if not _is_value(cell, name):
                raise ValueError(
                    f"{name}: {path} line {line}, column {column + 1 + skip} holds "
                    f"{_shown(cell.strip())}, which is not a number"
                    f"{_hint(block, row, column, name, skip, first)}"
                )
    return np.array(
        [[float(_BOOLEANS.get(cell.strip().lower(), cell)) for cell in row] for row in block],
        dtype=np.float64,
    )


def _shown(cell: str, most: int = 40) -> str:
    """A cell for a message: quoted, its first ``most`` characters and ``...`` if longer."""
    return repr(cell) if len(cell) <= most else f"{cell[:most]!r}..."


def _is_value(cell: str, name: str) -> bool:
    """A number, or (labels) a boolean word."""
    return _is_number(cell) or (name == "labels" and cell.strip().lower() in _BOOLEANS)


def _delimiter_hint(cells: list[str]) -> str:
    """Where a cell holds ``;`` or a tab: the file seems delimited by it (else "")."""
    for mark, what in ((";", "';'"), ("\t", "tabs")):
        if any(mark in cell for cell in cells):
            return f" (the file seems to be delimited by {what}; only commas separate values)"
    return ""


def _hint(block: list[list[str]], row: list[str], column: int, name: str, skip: int, first: bool):
    """The likely cause of a cell of ``row`` (in ``block``) that is not a value, or ""."""
    if delimiter := _delimiter_hint(row):
        return delimiter
    if first and not any(_is_number(cell) for cell in row):
        return " (the first row looks like a header of class names: drop --no_header)"
    if column == 0 and not skip and all(_is_value(cell, name) for cell in row[1:]):
        # Row names, unless the words of the first column repeat (as label words do).
        words = [other[0].strip() for other in block if not _is_value(other[0], name)]
        if len(set(words)) == len(words):
            return " (a first column of row names needs an empty header cell)"
    if name == "labels":
        return " (labels must be 0/1 or True/False)"
    return ""


def match_rows(scores: Matrix, labels: Matrix) -> Matrix:
    """``labels`` with its rows matched to those of ``scores`` by name where both carry row
    names (a first CSV column under an empty header cell): reordered to the scores' order
    by one gather (no copy where they are in order already). Where either has no row names,
    ``labels`` as it is: rows pair by position.

    Raises:
      ValueError: a row name repeated in either file, or a row of one file that the other
        lacks, named, with the file that lacks it.
    """
    if scores.row_names is None or labels.row_names is None:
        return labels
    ours = _row_index(scores, "scores", "labels")
    theirs = _row_index(labels, "labels", "scores")
    for row in scores.row_names:
        if row not in theirs:
            raise _missing_row("labels", labels, row, "scores", scores)
    for row in labels.row_names:
        if row not in ours:
            raise _missing_row("scores", scores, row, "labels", labels)
    order = np.fromiter(map(theirs.__getitem__, scores.row_names), np.intp, len(ours))
    if (order == np.arange(len(order))).all():
        return labels
    return labels._replace(values=labels.values[order], row_names=scores.row_names)


def _row_index(matrix: Matrix, name: str, other: str) -> dict[str, int]:
    """``{row name: row}`` of ``matrix``; a repeated name is an error."""
    index: dict[str, int] = {}
    for row, key in enumerate(matrix.row_names):
        if index.setdefault(key, row) != row:
            raise ValueError(
                f"{name}: {matrix.path} names two rows {key!r} (data rows {index[key] + 1} "
                f"and {row + 1}); row names must be unique to match the rows of the {other} "
                "by name"
            )
    return index


def _missing_row(name: str, lacking: Matrix, row: str, other: str, having: Matrix) -> ValueError:
    return ValueError(
        f"{name}: {lacking.path} has no row {row!r}, which the {other} ({having.path}) have; "
        "rows are matched by the row names of the first CSV column"
    )


def write_matrix(
    path: str | os.PathLike,
    shape: tuple[int, int],
    dtype,
    blocks: Iterable[np.ndarray],
    class_names=None,
    row_names: list[str] | None = None,
) -> None:
    """Writes a matrix atomically as ``.npy`` or ``.csv`` (a header of ``class_names``, or
    ``class_0, class_1, ...``), from ``blocks`` of consecutive rows, so that the whole
    matrix never needs to be in memory (nor, for CSV, as Python lists).

    Args:
      path: ``.npy`` or ``.csv``.
      shape: the whole matrix's ``(rows, columns)``.
      dtype: its dtype (``.npy``); bool or 0/1 integers are written to CSV as ``0`` and
        ``1``.
      blocks: arrays ``[some rows, columns]`` that together make ``shape[0]`` rows.
      class_names: column names for the CSV header.
      row_names: ``shape[0]`` row names, written (CSV only) as a first column under an
        empty header cell, as pandas writes a DataFrame's index.
    """
    extension = os.path.splitext(os.fspath(path))[1].lower()
    dtype = np.dtype(dtype)
    if extension not in (".npy", ".csv"):
        raise ValueError(f"output: unknown file type {extension!r}; use .npy or .csv")

    def write(stream) -> None:
        if extension == ".npy":
            np.lib.format.write_array_header_1_0(
                stream,
                {
                    "descr": np.lib.format.dtype_to_descr(dtype),
                    "fortran_order": False,
                    "shape": tuple(int(n) for n in shape),
                },
            )
        else:
            names = class_names or [f"class_{i}" for i in range(shape[1])]
            header = io.StringIO()
            csv.writer(header).writerow(([""] if row_names is not None else []) + list(names))
            stream.write(header.getvalue().encode("utf-8"))
        written = 0
        for block in blocks:
            block = np.asarray(block)
            if block.ndim != 2 or block.shape[1] != shape[1]:
                raise ValueError(f"output: a block of shape {block.shape} in a {shape} matrix")
            names = None if row_names is None else row_names[written : written + len(block)]
            written += block.shape[0]
            if extension == ".npy":
                stream.write(np.ascontiguousarray(block, dtype).data)
            elif dtype == np.bool_ or np.issubdtype(dtype, np.integer):
                digits = _csv_digits(block)
                stream.write(digits if names is None else _named_lines(digits, names))
            else:
                rows = block.tolist()
                if names is not None:
                    rows = [[name, *row] for name, row in zip(names, rows, strict=True)]
                text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
                csv.writer(text).writerows(rows)
                text.flush()
                text.detach()
        if written != shape[0]:
            raise ValueError(f"output: {written} rows written of {shape[0]}")

    write_atomic(path, write)


def _named_lines(digits: memoryview, names: list[str]) -> bytes:
    """CSV lines of :func:`_csv_digits`, each after its row's name (quoted as :mod:`csv`
    quotes a cell where it must be)."""
    if not names:
        return b""
    cells = io.StringIO()
    writer = csv.writer(cells, lineterminator="\n")
    lines = np.asarray(digits).reshape(len(names), -1)
    out = []
    for name, line in zip(names, lines, strict=True):
        cells.seek(0)
        cells.truncate()
        writer.writerow([name])
        out.append(cells.getvalue()[:-1].encode("utf-8") + b"," + line.tobytes())
    return b"".join(out)


def _csv_digits(block: np.ndarray) -> memoryview:
    """CSV lines (``\\r\\n``-terminated, as :mod:`csv` writes them) of a 0/1 block."""
    block = np.asarray(block)
    if block.dtype != np.bool_ and ((block < 0) | (block > 1)).any():
        raise ValueError("output: only 0/1 integers are written as CSV digits")
    rows, columns = block.shape
    line = np.empty((rows, 2 * columns + 1), np.uint8)
    line[:, 0 : 2 * columns : 2] = block
    line[:, 0 : 2 * columns : 2] += ord("0")
    line[:, 1 : 2 * columns - 1 : 2] = ord(",")
    line[:, 2 * columns - 1] = ord("\r")
    line[:, 2 * columns] = ord("\n")
    return line.data
