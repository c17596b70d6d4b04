"""The `jaxthresh` tool under hostile use: nothing lost, nothing silently wrong.

Each refused run must exit with status 2 and print exactly one line, ``jaxthresh: error:
<message>``, and leave its folder exactly as it was: every file's bytes and mode, no output,
no temporary file (:func:`snapshot` of the whole folder, hidden files included, before and
after). Runs call the tool's ``main`` in this process (``tests.cli.inprocess``), in a fresh
folder per test that holds every input; ``test_script.py`` runs the installed script in new
processes for a representative subset, and for signals.

One problem shape (40 rows, 4 classes) and the methods ``exact`` and ``sgl`` are used
throughout, so that the few fits here compile once.
"""

import csv
import errno
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import stat
import warnings

import numpy as np
import pytest

import jaxthresh
from jaxthresh.cli import blocks, method_flags, runner, tool
from jaxthresh.cli import thresholds_file as schema
from jaxthresh.core import validation
from jaxthresh.core.diagnostics import FitWarning
from tests.cli.inprocess import run_main
from tests.conftest import random_problem

# The tool prints the library's FitWarnings as lines (what these tests check): let them
# reach it as warnings, not as the errors the suite makes of them elsewhere.
pytestmark = pytest.mark.filterwarnings("default::jaxthresh.core.diagnostics.FitWarning")


NAMES = ["dog", "cat", "speech", "music"]
ROWS = 40
#: absl's log lines (fit's progress), which may accompany warnings on stderr.
LOG_LINE = re.compile(r"^[IWEF]\d{4} ")


def cli(*args):
    return run_main(tool.main, ["jaxthresh", *map(str, args)])


def snapshot(folder) -> dict:
    """``{relative path: (file type, mode, content)}`` of everything under ``folder``:
    a file's content is its SHA-256, a link's its target."""
    state = {}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = os.path.join(root, name)
            status = os.lstat(path)
            if stat.S_ISLNK(status.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(status.st_mode):
                with open(path, "rb") as stream:
                    content = hashlib.sha256(stream.read()).hexdigest()
            else:
                content = None
            key = os.path.relpath(path, folder)
            state[key] = (stat.S_IFMT(status.st_mode), stat.S_IMODE(status.st_mode), content)
    return state


def temporaries(folder) -> list[str]:
    return [name for name in os.listdir(folder) if ".jaxthresh-" in name]


def refused(folder, arguments, message) -> str:
    """Runs the tool; asserts status 2, one error line matching ``message``, nothing
    changed in ``folder``; returns the line."""
    before = snapshot(folder)
    ran = cli(*arguments)
    lines = ran.stderr.strip().splitlines()
    assert ran.returncode == 2, (arguments, ran.stderr)
    assert len(lines) == 1 and lines[0].startswith("jaxthresh: error: "), (arguments, ran.stderr)
    assert re.search(message, lines[0]), (message, lines[0])
    assert "pickle" not in ran.stderr.lower()
    assert snapshot(folder) == before, arguments
    return lines[0]


def succeeded(arguments):
    ran = cli(*arguments)
    assert ran.returncode == 0, (arguments, ran.stderr)
    return ran


def _csv(path, header, values, newline="\n"):
    lines = ([",".join(header)] if header else []) + [
        ",".join(repr(float(v)) for v in row) for row in values
    ]
    path.write_text(newline.join(lines) + newline)


def _record(names, thresholds) -> dict:
    record = schema.ThresholdsRecord(
        method="exact",
        hyperparameters={},
        objective="f1",
        average="micro",
        class_names=list(names),
        thresholds=np.asarray(thresholds, np.float32),
        slopes=None,
        score=0.5,
        n_rows=ROWS,
    )
    return record


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A fresh folder (the working directory) holding every input: scores and labels as
    .npy and .csv (with and without a header), class names, thresholds files, a sub-folder,
    a link to the scores and a hard link to them."""
    scores, labels = random_problem(41, rows=ROWS, classes=4)
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "l.npy", labels.astype(np.uint8))
    _csv(tmp_path / "s.csv", NAMES, scores)
    _csv(tmp_path / "l.csv", NAMES, labels.astype(int))
    _csv(tmp_path / "s_plain.csv", None, scores)
    _csv(tmp_path / "l_plain.csv", None, labels.astype(int))
    (tmp_path / "names.txt").write_text("\n".join(NAMES) + "\n")
    thresholds = np.array([0.3, 0.5, 0.6, 0.45], np.float32)
    schema.write_thresholds(tmp_path / "t.json", _record(NAMES, thresholds))
    schema.write_thresholds(
        tmp_path / "t_plain.json", _record(schema.default_class_names(4), thresholds)
    )
    (tmp_path / "sub").mkdir()
    os.symlink("s.npy", tmp_path / "link.npy")
    os.link(tmp_path / "s.npy", tmp_path / "hard.npy")
    monkeypatch.chdir(tmp_path)
    return tmp_path, scores, labels, thresholds


# -- 1. An output that is an input is refused before any work. -------------------------

FIT = ("fit", "--scores=s.npy", "--labels=l.npy", "--method=exact")
SAME_FILE = {
    "fit over the scores": ([*FIT, "--output=s.npy"], "output", "scores"),
    "fit over the labels": ([*FIT, "--output=l.npy"], "output", "labels"),
    "fit over ./scores": ([*FIT, "--output=./s.npy"], "output", "scores"),
    "fit over sub/../scores": ([*FIT, "--output=sub/../s.npy"], "output", "scores"),
    "fit over a link to the scores": ([*FIT, "--output=link.npy"], "output", "scores"),
    "fit over a hard link to the scores": ([*FIT, "--output=hard.npy"], "output", "scores"),
    "fit over the class names": (
        [*FIT, "--class_names=names.txt", "--output=names.txt"],
        "output",
        "class_names",
    ),
    "fit from a link over its target": (
        ["fit", "--scores=link.npy", "--labels=l.npy", "--output=s.npy"],
        "output",
        "scores",
    ),
    "apply over the scores (csv)": (
        ["apply", "--scores=s.csv", "--thresholds=t.json", "--output=s.csv"],
        "output",
        "scores",
    ),
    "apply over the thresholds": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=t.json"],
        "output",
        "thresholds",
    ),
    "plots over the class names": (
        [*FIT, "--class_names=thresholds.png", "--plot_dir=.", "--output=out.json"],
        "plot_dir",
        "class_names",
    ),
}


@pytest.mark.parametrize("case", list(SAME_FILE))
def test_an_output_that_is_an_input_is_refused(work, case):
    folder = work[0]
    (folder / "thresholds.png").write_text("\n".join(NAMES) + "\n")
    arguments, output_flag, input_flag = SAME_FILE[case]
    refused(
        folder,
        arguments,
        rf"^jaxthresh: error: {output_flag}: --{output_flag} \(.*\) is the --{input_flag} "
        r"file \(.*\); writing it would destroy the input: choose another output file$",
    )


def test_an_output_that_is_also_a_plot_is_refused(work):
    refused(
        work[0],
        [*FIT, "--plot_dir=plots", "--output=plots/thresholds.png"],
        r"plot_dir: --plot_dir \(plots/thresholds.png\) is also written by --output",
    )


# -- 2. Inputs that are not what they claim. --------------------------------------------


def _npy_bytes(values) -> bytes:
    stream = io.BytesIO()
    np.save(stream, values, allow_pickle=True)
    return stream.getvalue()


def _write_bad_files(folder):
    """Files whose name says NumPy but whose content does not."""

    (folder / "text.npy").write_text("0.1,0.2\n0.3,0.4\n")
    (folder / "gzip.npy").write_bytes(gzip.compress((folder / "s.npy").read_bytes()))
    (folder / "empty.npy").write_bytes(b"")
    (folder / "serialized.npy").write_bytes(pickle.dumps([[0.1, 0.2]]))
    (folder / "objects.npy").write_bytes(_npy_bytes(np.array([[0.1, None]], dtype=object)))
    (folder / "truncated.npy").write_bytes((folder / "s.npy").read_bytes()[:300])
    (folder / "zip.npy").write_bytes((folder / "archive.npz").read_bytes())
    (folder / "text.npz").write_text("scores\n0.1\n")
    (folder / "array.npz").write_bytes((folder / "s.npy").read_bytes())
    objects = np.array([[0.1, None]], dtype=object)
    np.savez(folder / "objects.npz", scores=objects, labels=objects)


NOT_NUMPY = {
    "text named .npy": ("text.npy", r"is not a NumPy \.npy file \(it starts with the text '0\.1"),
    "gzip named .npy": ("gzip.npy", r"is not a NumPy \.npy file \(it is gzip-compressed"),
    "empty .npy": ("empty.npy", r"is not a NumPy \.npy file \(it is empty\)"),
    "pickle named .npy": (
        "serialized.npy",
        r"is not a NumPy \.npy file \(it starts with the bytes 80",
    ),
    "zip named .npy": ("zip.npy", r"is not a NumPy \.npy file \(it is a zip archive"),
    "object array .npy": ("objects.npy", r"holds Python objects \(dtype object\), not numbers"),
    "truncated .npy": ("truncated.npy", r"cannot read truncated\.npy"),
    "text named .npz": ("text.npz", r"is not a NumPy \.npz file \(it starts with the text"),
    "npy named .npz": ("array.npz", r"is not a NumPy \.npz file \(it is an \.npy file\)"),
    "object array .npz": ("objects.npz", r"holds Python objects \(dtype object\), not numbers"),
}


@pytest.mark.parametrize("flag", ["scores", "labels"])
@pytest.mark.parametrize("case", list(NOT_NUMPY))
def test_a_file_that_is_not_numpy_says_what_it_is(work, case, flag):
    folder = work[0]
    np.savez(folder / "archive.npz", scores=work[1])
    _write_bad_files(folder)
    name, message = NOT_NUMPY[case]
    arguments = {"scores": f"--scores={name}", "labels": f"--labels={name}"}
    given = {"scores": "--scores=s.npy", "labels": "--labels=l.npy", **{flag: arguments[flag]}}
    refused(
        folder,
        ["fit", *given.values(), "--output=out.json"],
        rf"^jaxthresh: error: {flag}: .*{message}",
    )


NOT_A_FILE = {
    "scores is a folder": (["fit", "--scores=sub", "--labels=l.npy"], r"scores: sub is a folder"),
    "scores is /dev/null": (
        ["fit", "--scores=/dev/null", "--labels=l.npy"],
        r"scores: /dev/null is not a regular file \(it is a character device\)",
    ),
    "scores is a broken link": (
        ["fit", "--scores=broken.npy", "--labels=l.npy"],
        r"scores: broken.npy is a broken symbolic link \(to nowhere.npy\)",
    ),
    "scores missing": (
        ["fit", "--scores=missing.npy", "--labels=l.npy"],
        r"scores: file not found: missing.npy",
    ),
    "labels is a folder": (["fit", "--scores=s.npy", "--labels=sub"], r"labels: sub is a folder"),
    "thresholds is a folder": (
        ["apply", "--scores=s.npy", "--thresholds=sub"],
        r"thresholds: sub is a folder",
    ),
    "thresholds is /dev/null": (
        ["evaluate", "--scores=s.npy", "--labels=l.npy", "--thresholds=/dev/null"],
        r"thresholds: /dev/null is not a regular file",
    ),
    "thresholds missing": (
        ["apply", "--scores=s.npy", "--thresholds=missing.json"],
        r"thresholds: file not found: missing.json",
    ),
    "class names is a folder": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--class_names=sub"],
        r"class_names: sub is a folder",
    ),
    "output is /dev/null": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=/dev/null"],
        r"output: /dev/null is not a regular file \(a character device\)",
    ),
    "output in a missing folder": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=nowhere/p.npy"],
        r"output: cannot write nowhere/p\.npy: folder nowhere does not exist$",
    ),
    "output of an unknown type": (
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=p.txt"],
        r"output: unknown file type '\.txt' of p\.txt; use \.npy or \.csv",
    ),
}


@pytest.mark.parametrize("case", list(NOT_A_FILE))
def test_a_path_that_is_not_a_regular_file_says_what_it_is(work, case):
    folder = work[0]
    os.symlink("nowhere.npy", folder / "broken.npy")
    arguments, message = NOT_A_FILE[case]
    if arguments[0] != "evaluate" and not any(a.startswith("--output=") for a in arguments):
        arguments = [
            *arguments,
            "--output=out.npy" if arguments[0] == "apply" else "--output=o.json",
        ]
    refused(folder, arguments, rf"^jaxthresh: error: {message}")


# -- thresholds.json: strict types, one line naming the key. ------------------------------


def _edited(change):
    def edit(document):
        document = dict(document)
        change(document)
        return json.dumps(document)

    return edit


def _set(key, value):
    return _edited(lambda document: document.__setitem__(key, value))


def _version_1(key, value):
    """A version-1 file (``beta`` and ``fit_f1`` in place of ``objective`` and ``score``)
    with ``key`` set to ``value``."""

    def edit(document):
        document.update(format_version=1, beta=1.0, fit_f1=0.5)
        del document["objective"], document["score"]
        document[key] = value

    return _edited(edit)


def _raw(old, new):
    return lambda document: json.dumps(document).replace(old, new, 1)


THRESHOLDS_FILES = {
    "nested thresholds": (
        _set("thresholds", [[0.5]] * 4),
        r"'thresholds\[0\]' must be a number \(the list must be flat\), got a list",
    ),
    "threshold strings": (
        _set("thresholds", ["0.6"] * 4),
        r"'thresholds\[0\]' must be a number .*got the string '0\.6'",
    ),
    "threshold booleans": (
        _set("thresholds", [0.5, True, 0.5, 0.5]),
        r"'thresholds\[1\]' must be a number .*got true",
    ),
    "threshold 1e39": (
        _set("thresholds", [0.5, 1e39, 0.5, 0.5]),
        r"'thresholds\[1\]' is 1e\+39, not finite as float32",
    ),
    "threshold -1e39": (
        _set("thresholds", [0.5, 0.5, -1e39, 0.5]),
        r"'thresholds\[2\]' is -1e\+39, not finite as float32",
    ),
    "threshold 10**400": (
        _raw("[0.3", "[1" + "0" * 400),
        r"'thresholds\[0\]' is 10000000000000000000\.\.\., not finite as float32",
    ),
    "threshold NaN": (_raw("[0.3", "[NaN"), r"'thresholds\[0\]' is nan, not finite as float32"),
    "threshold Infinity": (
        _raw("[0.3", "[Infinity"),
        r"'thresholds\[0\]' is inf, not finite as float32",
    ),
    "thresholds a number": (
        _set("thresholds", 0.5),
        r"'thresholds' must be a list of numbers, got 0\.5",
    ),
    "thresholds missing": (_edited(lambda d: d.pop("thresholds")), r"has no 'thresholds'"),
    "no thresholds": (
        _edited(lambda d: d.update(thresholds=[], class_names=[])),
        r"has no thresholds$",
    ),
    "fewer thresholds": (_set("thresholds", [0.5] * 3), r"has 3 thresholds for 4 class names"),
    "format_version true": (
        _set("format_version", True),
        r"'format_version' must be an integer, got true",
    ),
    "format_version string": (
        _set("format_version", "1"),
        r"'format_version' must be an integer, got the string '1'",
    ),
    "format_version float": (
        _set("format_version", 1.0),
        r"'format_version' must be an integer, got 1\.0",
    ),
    "format_version newer": (
        _set("format_version", 3),
        r"has format version 3; this jaxthresh reads up to 2",
    ),
    "format_version missing": (
        _edited(lambda d: d.pop("format_version")),
        r"has no 'format_version'",
    ),
    "another format": (_set("format", "other"), r"is not a jaxthresh\.thresholds file"),
    "a list": (lambda document: json.dumps([document]), r"is not a jaxthresh\.thresholds file"),
    "slopes NaN": (
        _raw('"slopes": null', '"slopes": [NaN, 1, 1, 1]'),
        r"'slopes\[0\]' is nan, not finite as float32",
    ),
    "slope strings": (_set("slopes", ["1"] * 4), r"'slopes\[0\]' must be a number"),
    "slopes nested": (
        _set("slopes", [[1.0]] * 4),
        r"'slopes\[0\]' must be a number \(the list must be flat\)",
    ),
    "fewer slopes": (_set("slopes", [1.0] * 3), r"has 3 slopes for 4 classes"),
    "class_names a string": (
        _set("class_names", "dog"),
        r"'class_names' must be a list of strings, got the string 'dog'",
    ),
    "class_names numbers": (
        _set("class_names", [1, 2, 3, 4]),
        r"'class_names\[0\]' must be a string, got 1",
    ),
    "beta a string": (_version_1("beta", "1"), r"'beta' must be a number, got the string '1'"),
    "beta 0": (_version_1("beta", 0), r"'beta' must be finite and > 0, got 0\.0"),
    "objective a number": (
        _set("objective", 2),
        r"'objective' must be a name or an object with a 'name', got 2$",
    ),
    "objective without a name": (
        _set("objective", {"beta": 2.0}),
        r"'objective' must be a name or an object with a 'name', got an object$",
    ),
    "objective coefficient a string": (
        _set("objective", {"name": "fbeta", "beta": "2"}),
        r"'objective\.beta' must be a finite number or a list of them, got the string '2'$",
    ),
    "objective coefficient NaN": (
        _raw('"objective": "f1"', '"objective": {"name": "fbeta", "beta": NaN}'),
        r"'objective\.beta' must be a finite number or a list of them, got nan$",
    ),
    "average unknown": (
        _set("average", "mean"),
        r"'average' must be one of micro, macro, weighted, got 'mean'",
    ),
    "n_rows true": (_set("n_rows", True), r"'n_rows' must be an integer, got true"),
    "fit_f1 2": (_version_1("fit_f1", 2), r"'fit_f1' must be in \[0, 1\], got 2\.0"),
    "hyperparameters a list": (
        _set("hyperparameters", []),
        r"'hyperparameters' must be an object, got a list",
    ),
    "method a number": (_set("method", 3), r"'method' must be a string, got 3"),
    "repeated key": (
        _raw('"thresholds":', '"thresholds": [1, 1, 1, 1], "thresholds":'),
        r"repeats the key 'thresholds'",
    ),
    "not JSON": (lambda document: "{'format': 1}", r"cannot read t\.json: "),
    "not UTF-8": (lambda document: "\udcff", r"cannot read t\.json: "),
}


@pytest.mark.parametrize("command", ["apply", "evaluate"])
@pytest.mark.parametrize("case", list(THRESHOLDS_FILES))
def test_thresholds_files_are_read_strictly(work, case, command):
    folder = work[0]
    edit, message = THRESHOLDS_FILES[case]
    document = json.loads((folder / "t.json").read_text())
    (folder / "t.json").write_bytes(edit(document).encode("utf-8", "surrogateescape"))
    arguments = {
        "apply": ["apply", "--scores=s.csv", "--thresholds=t.json", "--output=p.npy"],
        "evaluate": ["evaluate", "--scores=s.csv", "--labels=l.csv", "--thresholds=t.json"],
    }[command]
    refused(folder, arguments, rf"^jaxthresh: error: thresholds: (t\.json: )?.*{message}")


def test_integer_thresholds_are_numbers(work):
    folder, scores, _, _ = work
    document = json.loads((folder / "t.json").read_text())
    document["thresholds"] = [0, 1, 0, 1]
    (folder / "t.json").write_text(json.dumps(document))
    succeeded(["apply", "--scores=s.csv", "--thresholds=t.json", "--output=p.npy"])
    np.testing.assert_array_equal(np.load(folder / "p.npy"), scores > np.array([0, 1, 0, 1]))


# -- CSV files: a missing header is refused unless --no_header. ---------------------------

CSV_FILES = {
    "scores without a header": (
        ["apply", "--scores=s_plain.csv", "--thresholds=t_plain.json", "--output=p.csv"],
        r"scores: s_plain\.csv has no header row \(its first row is numbers\); add a row of "
        r"class names, or pass --no_header$",
    ),
    "labels without a header": (
        ["evaluate", "--scores=s.csv", "--labels=l_plain.csv", "--thresholds=t.json"],
        r"labels: l_plain\.csv has no header row",
    ),
    "--no_header with a header": (
        ["apply", "--scores=s.csv", "--no_header", "--thresholds=t.json", "--output=p.csv"],
        r"scores: s\.csv line 1, column 1 holds 'dog', which is not a number",
    ),
    "a short row": (
        ["apply", "--scores=short.csv", "--thresholds=t.json", "--output=p.csv"],
        r"scores: short\.csv line 3 has 3 values, the header has 4",
    ),
    "a word": (
        ["apply", "--scores=word.csv", "--thresholds=t.json", "--output=p.csv"],
        r"scores: word\.csv line 4, column 2 holds 'abc', which is not a number",
    ),
    "only a header": (
        ["apply", "--scores=header.csv", "--thresholds=t.json", "--output=p.csv"],
        r"scores: is empty \(shape \(0, 4\)\)",
    ),
    "empty": (
        ["apply", "--scores=empty.csv", "--thresholds=t.json", "--output=p.csv"],
        r"scores: empty\.csv is empty",
    ),
    "gzip named .csv": (
        ["apply", "--scores=gzip.csv", "--thresholds=t.json", "--output=p.csv"],
        r"scores: gzip\.csv is not a CSV text file in UTF-8 \(it is gzip-compressed; "
        r"decompress it first\)",
    ),
}


@pytest.mark.parametrize("case", list(CSV_FILES))
def test_bad_csv_files(work, case):
    folder = work[0]
    lines = (folder / "s.csv").read_text().splitlines()
    (folder / "short.csv").write_text("\n".join([*lines[:2], "0.1,0.2,0.3", *lines[3:]]) + "\n")
    (folder / "word.csv").write_text("\n".join([*lines[:3], "0.1,abc,0.3,0.4", *lines[4:]]))
    (folder / "header.csv").write_text(lines[0] + "\n")
    (folder / "empty.csv").write_text("")
    (folder / "gzip.csv").write_bytes(gzip.compress((folder / "s.csv").read_bytes()))
    arguments, message = CSV_FILES[case]
    refused(folder, arguments, rf"^jaxthresh: error: {message}")


def test_no_header_reads_every_row_and_names_classes(work):
    folder, scores, _, thresholds = work
    succeeded(
        [
            "apply",
            "--scores=s_plain.csv",
            "--no_header",
            "--thresholds=t_plain.json",
            "--output=p.csv",
        ]
    )
    text = (folder / "p.csv").read_text()
    assert text.splitlines()[0] == "class_0,class_1,class_2,class_3"
    np.testing.assert_array_equal(
        np.loadtxt(folder / "p.csv", delimiter=",", skiprows=1), scores > thresholds
    )
    plain = succeeded(
        [
            "evaluate",
            "--scores=s_plain.csv",
            "--labels=l_plain.csv",
            "--no_header",
            "--thresholds=t_plain.json",
            "--format=json",
        ]
    )
    named = succeeded(
        [
            "evaluate",
            "--scores=s.npy",
            "--labels=l.npy",
            "--thresholds=t_plain.json",
            "--format=json",
        ]
    )
    assert plain.stdout == named.stdout


def test_csv_with_crlf_blank_lines_and_a_byte_order_mark(work):
    folder, scores, _, thresholds = work
    _csv(folder / "crlf.csv", NAMES, scores, newline="\r\n\r\n")
    (folder / "bom.csv").write_text("\ufeff" + (folder / "s.csv").read_text(), encoding="utf-8")
    for name in ("crlf.csv", "bom.csv"):
        succeeded(["apply", f"--scores={name}", "--thresholds=t.json", "--output=p.npy"])
        np.testing.assert_array_equal(np.load(folder / "p.npy"), scores > thresholds)


# -- Flags: per-command help, and flags that do not apply to the command. -----------------

FOREIGN_FLAGS = {
    "--method for apply": (["apply", "--method=sgl"], "method", "apply", "fit"),
    "--init for apply": (["apply", "--init=0.3"], "init", "apply", "fit"),
    "--labels for apply": (["apply", "--labels=l.npy"], "labels", "apply", "fit and evaluate"),
    "--thresholds for fit": (
        ["fit", "--thresholds=t.json"],
        "thresholds",
        "fit",
        "apply and evaluate",
    ),
    "--format for fit": (["fit", "--format=json"], "format", "fit", "evaluate"),
    "--output for evaluate": (
        ["evaluate", "--output=p.npy"],
        "output",
        "evaluate",
        "fit and apply",
    ),
    "--plot_dir for evaluate": (["evaluate", "--plot_dir=plots"], "plot_dir", "evaluate", "fit"),
    "--seed for evaluate": (["evaluate", "--seed=1"], "seed", "evaluate", "fit"),
}


@pytest.mark.parametrize("case", list(FOREIGN_FLAGS))
def test_a_flag_of_another_command_is_refused(work, case):
    arguments, flag, command, takers = FOREIGN_FLAGS[case]
    more = {
        "fit": ["--scores=s.npy", "--labels=l.npy", "--output=o.json"],
        "apply": ["--scores=s.npy", "--thresholds=t.json", "--output=p.npy"],
        "evaluate": ["--scores=s.npy", "--labels=l.npy", "--thresholds=t.json"],
    }[command]
    refused(
        work[0],
        [*arguments, *more],
        rf"^jaxthresh: error: {flag}: --{flag} is not a flag of {command} \(only of "
        rf"{takers}\); see jaxthresh {command} --help$",
    )


def _listed_flags(text: str) -> set[str]:
    return set(re.findall(r"^ +--(?:\[no\])?(\w+):", text, re.MULTILINE))


HELP = {
    "--help": (["--help"], None),
    "-h": (["-h"], None),
    "fit --help": (["fit", "--help"], "fit"),
    "fit -h": (["fit", "-h"], "fit"),
    "-h fit": (["-h", "fit"], "fit"),
    "apply --help": (["apply", "--help"], "apply"),
    "evaluate -h with other flags": (["evaluate", "--scores=s.npy", "-h"], "evaluate"),
}


@pytest.mark.parametrize("case", list(HELP))
def test_help_exits_0_and_lists_the_command_s_flags(case):
    arguments, command = HELP[case]
    ran = cli(*arguments)
    assert ran.returncode == 0 and ran.stderr == "", ran.stderr
    expected = set(tool.tool_flags()) if command is None else set(tool.flags_of(command))
    assert _listed_flags(ran.stdout) == expected
    if command is not None:
        assert ran.stdout.startswith(f"jaxthresh {command}: {tool.COMMANDS[command]}")
    hyperparameters = set(method_flags.declared())
    assert (
        hyperparameters <= expected if command in (None, "fit") else not hyperparameters & expected
    )


# -- 3. Warnings: one line each, status 0. -----------------------------------------------


def _warning_lines(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if not LOG_LINE.match(line)]
    assert all(line.startswith("jaxthresh: warning: ") for line in lines), stderr
    return lines


def test_fit_warnings_are_one_line_each_and_exit_0(work):
    folder, scores, labels, _ = work
    labels = labels.copy()
    labels[:, 2] = False
    np.save(folder / "l0.npy", labels)
    ran = succeeded(["fit", "--scores=s.npy", "--labels=l0.npy", "--init=5", "--output=o.json"])
    lines = _warning_lines(ran.stderr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jaxthresh.fit("sgl", scores, labels, init=5.0, progress=True)
    expected = [
        "jaxthresh: warning: " + " ".join(str(w.message).split())
        for w in caught
        if issubclass(w.category, FitWarning)
    ]
    assert any("no positive rows in 1 class (2)" in line for line in lines), lines
    assert any(line.startswith("jaxthresh: warning: init: outside") for line in lines), lines
    assert sorted(set(lines)) == sorted(set(expected)) and len(lines) == len(set(lines))
    assert "FitWarning" not in ran.stderr and "warn(" not in ran.stderr
    assert json.loads((folder / "o.json").read_text())["method"] == "sgl"
    assert temporaries(folder) == []


def _runner(main, *arguments):
    return run_main(lambda: runner.run(lambda argv: main()), ["prog", *arguments])


def test_runner_prints_each_warning_once_as_one_line():
    def main():
        warnings.warn("first\n  of two", FitWarning, stacklevel=1)
        for _ in range(3):
            warnings.warn("second", FitWarning, stacklevel=1)
        with np.errstate(over="warn"):
            np.array([1e39]).astype(np.float32)

    ran = _runner(main)
    assert ran.returncode == 0
    assert ran.stderr.splitlines() == [
        "prog: warning: first of two",
        "prog: warning: second",
        "prog: warning: overflow encountered in cast (RuntimeWarning)",
    ]


@pytest.mark.parametrize(
    "raised, status, line",
    [
        (KeyboardInterrupt(), 130, "prog: error: interrupted"),
        (ValueError("bad:\n value"), 2, "prog: error: bad: value"),
        (FileNotFoundError(2, "No such file", "x"), 2, "prog: error: [Errno 2] No such file: 'x'"),
    ],
)
def test_runner_errors_are_one_line(raised, status, line):
    def main():
        raise raised

    ran = _runner(main)
    assert (ran.returncode, ran.stderr.splitlines()) == (status, [line])


def test_a_warning_made_an_error_is_an_error_line():
    def main():
        warnings.simplefilter("error")
        warnings.warn("careful", FitWarning, stacklevel=1)

    ran = _runner(main)
    assert (ran.returncode, ran.stderr.splitlines()) == (2, ["prog: error: careful"])


def test_float64_scores_beyond_float32_are_an_error_without_a_warning(work):
    folder, scores, _, _ = work
    scores = scores.astype(np.float64)
    scores[7, 3] = 1e39
    np.save(folder / "big.npy", scores)
    refused(
        folder,
        ["apply", "--scores=big.npy", "--thresholds=t.json", "--output=p.npy"],
        r"^jaxthresh: error: scores: 1 value\(s\) are NaN or infinite as float32 \(first at "
        r"row 7, class 3: 1e\+39\)$",
    )


# -- 4. Blocks of rows: the same results whatever the block size. -------------------------


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of three rows of float32 scores (14 blocks, the last one short), one row of
    float64 scores."""
    monkeypatch.setattr(validation, "BLOCK_BYTES", 48)


@pytest.mark.parametrize("scores_file", ["s.npy", "s.csv"])
def test_apply_in_blocks_matches_the_library(work, tiny_blocks, scores_file):
    folder, scores, _, thresholds = work
    assert len(list(blocks.row_blocks(scores))) == 14
    for output in ("p.npy", "p.csv"):
        ran = succeeded(
            ["apply", f"--scores={scores_file}", "--thresholds=t.json", f"--output={output}"]
        )
        expected = np.asarray(jaxthresh.apply_thresholds(scores, thresholds))
        assert ran.stdout.startswith(f"{int(expected.sum())} positive predictions in {ROWS} rows")
        if output == "p.npy":
            predictions = np.load(folder / output)
            assert predictions.dtype == np.uint8
            np.testing.assert_array_equal(predictions, expected)
        else:  # byte for byte what the csv module writes
            reference = io.StringIO(newline="")
            writer = csv.writer(reference)
            writer.writerow(NAMES)
            writer.writerows(expected.astype(int).tolist())
            assert (folder / output).read_bytes() == reference.getvalue().encode()
    assert temporaries(folder) == []


def test_evaluate_in_blocks_matches_one_block(work, monkeypatch):
    _, scores, labels, thresholds = work
    arguments = [
        "evaluate",
        "--scores=s.npy",
        "--labels=l.npy",
        "--thresholds=t.json",
        "--format=json",
    ]
    whole = succeeded(arguments).stdout
    monkeypatch.setattr(validation, "BLOCK_BYTES", 48)
    assert succeeded(arguments).stdout == whole
    rows = {row["name"]: row for row in json.loads(whole)}
    predictions = scores > thresholds
    assert rows["micro"]["f1"] == pytest.approx(jaxthresh.f1_score(labels, predictions))
    assert rows["macro"]["f1"] == pytest.approx(
        jaxthresh.f1_score(labels, predictions, average="macro")
    )
    assert [rows[name]["support"] for name in NAMES] == labels.sum(axis=0).tolist()


def test_bad_values_in_a_later_block_name_their_row(work, tiny_blocks):
    folder, scores, labels, _ = work
    scores = scores.copy()
    scores[33, 2] = np.nan
    scores[38, 0] = np.inf
    np.save(folder / "nan.npy", scores)
    labels = labels.astype(np.uint8)
    labels[37, 1] = 2
    np.save(folder / "two.npy", labels)
    refused(
        folder,
        ["apply", "--scores=nan.npy", "--thresholds=t.json", "--output=p.csv"],
        r"scores: 2 value\(s\) are NaN or infinite as float32 \(first at row 33, class 2: nan\)$",
    )
    refused(
        folder,
        ["evaluate", "--scores=s.npy", "--labels=two.npy", "--thresholds=t.json"],
        r"labels: values must be 0 or 1, found 2 at row 37, class 1 \(1 such values\)$",
    )


# -- Outputs: modes kept, links followed, nothing left behind. ---------------------------


@pytest.mark.parametrize("output", ["p.npy", "p.csv", "o.json"])
def test_a_replaced_output_keeps_its_mode(work, output):
    folder = work[0]
    (folder / output).write_text("old")
    os.chmod(folder / output, 0o640)
    if output == "o.json":
        succeeded([*FIT, f"--output={output}"])
        assert json.loads((folder / output).read_text())["method"] == "exact"
    else:
        succeeded(["apply", "--scores=s.npy", "--thresholds=t.json", f"--output={output}"])
    assert stat.S_IMODE(os.stat(folder / output).st_mode) == 0o640
    assert temporaries(folder) == []


def test_an_output_link_is_followed(work):
    folder = work[0]
    (folder / "sub" / "p.npy").write_text("old")
    os.symlink("sub/p.npy", folder / "p.npy")
    succeeded(["apply", "--scores=s.npy", "--thresholds=t.json", "--output=p.npy"])
    assert os.readlink(folder / "p.npy") == "sub/p.npy"
    assert np.load(folder / "sub" / "p.npy").shape == (ROWS, 4)


def test_a_failed_apply_leaves_the_old_output(work, monkeypatch):
    folder = work[0]
    (folder / "p.csv").write_text("old")

    def broken(*args, **kwargs):
        yield np.zeros((2, 4), bool)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(
        blocks, "predictions", lambda scores, thresholds, **rules: enumerate(broken())
    )
    refused(
        folder,
        ["apply", "--scores=s.npy", "--thresholds=t.json", "--output=p.csv"],
        r"^jaxthresh: error: output: cannot write p\.csv: no space left on the device$",
    )


#: The outputs of each command: (arguments, flag, file).
OUTPUTS = {
    "fit": (["fit", "--scores=s.npy", "--labels=l.npy", "--method=exact"], "output", "o.json"),
    "apply": (["apply", "--scores=s.npy", "--thresholds=t.json"], "output", "p.csv"),
    "evaluate": (
        ["evaluate", "--scores=s.npy", "--labels=l.npy", "--thresholds=t.json"],
        "curves",
        "c.csv",
    ),
}
WRITE_ERRORS = {
    "no space": (errno.ENOSPC, r"no space left on the device"),
    "file size limit": (
        errno.EFBIG,
        r"the file is too large \(it reached the file size limit, ulimit -f\)",
    ),
}


@pytest.mark.parametrize("case", list(WRITE_ERRORS))
@pytest.mark.parametrize("command", list(OUTPUTS))
def test_a_failed_write_names_the_flag_the_file_and_why(work, monkeypatch, command, case):
    arguments, flag, file = OUTPUTS[command]
    number, why = WRITE_ERRORS[case]

    def fsync(descriptor):
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(os, "fsync", fsync)
    refused(
        work[0],
        [*arguments, f"--{flag}={file}"],
        rf"^jaxthresh: error: {flag}: cannot write {re.escape(file)}: {why}$",
    )


@pytest.mark.parametrize(
    "where, why",
    [("nodir/", "folder nodir does not exist"), ("s.npy/", r"s\.npy is not a folder")],
)
@pytest.mark.parametrize("command", list(OUTPUTS))
def test_an_output_in_no_folder_names_the_path_asked_for(work, command, where, why):
    arguments, flag, file = OUTPUTS[command]
    refused(
        work[0],
        [*arguments, f"--{flag}={where}{file}"],
        rf"^jaxthresh: error: {flag}: cannot write {re.escape(where + file)}: {why}$",
    )


# -- Classes named class_0, class_1, ... are unnamed: they pair by position. -------------

UNNAMED = {
    "the thresholds file's": ("t_plain.json", "s.csv", "l.csv"),
    "the scores'": ("t.json", "s_default.csv", "l.csv"),
    "the labels'": ("t.json", "s.csv", "l_default.csv"),
    "the scores' and the labels'": ("t.json", "s_default.csv", "l_default.csv"),
    "the thresholds file's and the scores'": ("t_plain.json", "s_default.csv", "l.csv"),
    "all": ("t_plain.json", "s_default.csv", "l_default.csv"),
}

UNNAMED_FILES = {"t_plain.json", "s_default.csv", "l_default.csv"}


@pytest.mark.parametrize("case", list(UNNAMED))
def test_generated_class_names_are_unnamed(work, case):
    """Each command names the classes after the first input that names them."""
    folder, scores, labels, thresholds = work
    files = UNNAMED[case]
    default = schema.default_class_names(4)
    _csv(folder / "s_default.csv", default, scores)
    _csv(folder / "l_default.csv", default, labels.astype(int))

    def names(*used):  # of the inputs used: NAMES if one of them has them
        return default if {files[i] for i in used} <= UNNAMED_FILES else NAMES

    succeeded(["apply", f"--scores={files[1]}", f"--thresholds={files[0]}", "--output=p.csv"])
    assert (folder / "p.csv").read_text().splitlines()[0] == ",".join(names(0, 1))
    np.testing.assert_array_equal(
        np.loadtxt(folder / "p.csv", delimiter=",", skiprows=1), scores > thresholds
    )
    ran = succeeded(
        [
            "evaluate",
            f"--scores={files[1]}",
            f"--labels={files[2]}",
            f"--thresholds={files[0]}",
            "--format=json",
        ]
    )
    report = json.loads(ran.stdout)
    assert [row["name"] for row in report[:4]] == names(0, 1, 2)
    expected = jaxthresh.f1_score(labels, scores > thresholds)
    assert report[4]["f1"] == pytest.approx(float(expected), abs=1e-6)
    succeeded(["fit", f"--scores={files[1]}", f"--labels={files[2]}", "--output=o.json"])
    assert json.loads((folder / "o.json").read_text())["class_names"] == names(1, 2)


@pytest.mark.parametrize("command", ["apply", "evaluate"])
def test_unnamed_classes_must_still_be_as_many(work, command):
    folder, scores, labels, _ = work
    _csv(folder / "s3.csv", NAMES[:3], scores[:, :3])
    _csv(folder / "l3.csv", NAMES[:3], labels[:, :3].astype(int))
    tail = ["--output=p.csv"] if command == "apply" else ["--labels=l3.csv"]
    refused(
        folder,
        [command, "--scores=s3.csv", "--thresholds=t_plain.json", *tail],
        r"^jaxthresh: error: thresholds: the file has 4 classes, the scores have 3$",
    )


@pytest.mark.parametrize("command", ["apply", "evaluate"])
def test_a_thresholds_file_with_a_byte_order_mark(work, command):
    folder, scores, _, thresholds = work
    (folder / "bom.json").write_bytes(b"\xef\xbb\xbf" + (folder / "t.json").read_bytes())
    arguments = {
        "apply": ["--scores=s.csv", "--output=p.npy"],
        "evaluate": ["--scores=s.csv", "--labels=l.csv", "--format=json"],
    }[command]
    plain = succeeded([command, *arguments, "--thresholds=t.json"])
    ran = succeeded([command, *arguments, "--thresholds=bom.json"])
    assert ran.stdout == plain.stdout
    if command == "apply":
        np.testing.assert_array_equal(np.load(folder / "p.npy"), scores > thresholds)


@pytest.mark.parametrize("command", ["apply to .npy", "apply to .csv", "evaluate"])
def test_memory_stays_near_the_inputs(tmp_path, monkeypatch, command):
    """Peak memory that Python and NumPy allocate (tracemalloc) during a run on 20,000 x
    100 float32 scores (8 MB): the scores and labels as loaded, plus blocks of 1 MB: no
    copy of the scores, no predictions or Python lists of the whole."""
    import tracemalloc

    monkeypatch.setattr(validation, "BLOCK_BYTES", 1 << 20)
    rng = np.random.default_rng(5)
    scores = rng.random((20_000, 100), np.float32)
    np.save(tmp_path / "s.npy", scores)
    np.save(tmp_path / "l.npy", rng.random((20_000, 100)) < 0.1)
    names = schema.default_class_names(100)
    schema.write_thresholds(tmp_path / "t.json", _record(names, np.full(100, 0.9, np.float32)))
    arguments = {
        "apply to .npy": ["apply", f"--output={tmp_path / 'p.npy'}"],
        "apply to .csv": ["apply", f"--output={tmp_path / 'p.csv'}"],
        "evaluate": ["evaluate", f"--labels={tmp_path / 'l.npy'}"],
    }[command]
    arguments += [f"--scores={tmp_path / 's.npy'}", f"--thresholds={tmp_path / 't.json'}"]
    inputs = scores.nbytes + (scores.size if command == "evaluate" else 0)
    succeeded(arguments)  # once first: imports and compilations are not the run's memory
    tracemalloc.start()
    try:
        succeeded(arguments)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < inputs + 6 * (1 << 20), (peak, inputs)


@pytest.mark.parametrize(
    "case",
    ["subnormal float32", "float64 within float32 rounding", "float64 near 1e-300"],
)
def test_apply_agrees_with_numpy_where_float32_arithmetic_would_not(work, case):
    """``jaxthresh apply`` compares the file's own values, as NumPy's ``scores >
    thresholds`` does: subnormals are not flushed, float64 is not rounded to float32."""
    folder, scores, _, thresholds = work
    if case == "subnormal float32":
        values, limits = (scores * np.float32(1e-40)).astype(np.float32), thresholds * 1e-40
        limits = limits.astype(np.float32)
    elif case == "float64 within float32 rounding":
        values = np.repeat(thresholds.astype(np.float64)[None], ROWS, axis=0)
        values += np.linspace(-1e-9, 1e-9, ROWS)[:, None]  # float32 rounds all to t
        limits = thresholds
    else:
        values, limits = scores.astype(np.float64) * 1e-300, np.zeros(4, np.float32)
        values[::3] = 0.0
    np.save(folder / "v.npy", values)
    schema.write_thresholds(folder / "tv.json", _record(NAMES, limits))
    succeeded(["apply", "--scores=v.npy", "--thresholds=tv.json", "--output=pv.npy"])
    expected = values > np.asarray(schema.read_thresholds(folder / "tv.json").thresholds)
    assert 0 < expected.sum() < expected.size
    np.testing.assert_array_equal(np.load(folder / "pv.npy"), expected)


def test_a_fit_on_the_rows_of_large_scores_says_so_and_points_to_bins(work, monkeypatch):
    monkeypatch.setattr(tool, "LARGE_FIT_SCORES", ROWS * 4)  # this problem counts as large
    exact = ["fit", "--scores=s.npy", "--labels=l.npy", "--method=exact"]
    ran = succeeded([*exact, "--output=o.json"])
    memory = [line for line in _warning_lines(ran.stderr) if "memory:" in line]
    assert memory == [
        f"jaxthresh: warning: memory: exact on the rows of {ROWS} x 4 scores (0.0 GB as "
        "float32) holds several copies of them (4 to 18 times on 200,000 x 1,000); "
        "--bins=1024 (numerical, sgl, exact, constrained) fits on per-class histograms "
        "after one pass over the rows (about 2 times)"
    ]
    ran = succeeded([*exact, "--bins=16", "--output=o2.json"])
    assert not [line for line in _warning_lines(ran.stderr) if "memory:" in line]


def test_a_fit_with_bins_passes_over_the_rows_in_blocks(work, monkeypatch):
    """``fit --bins`` builds the histogram with ``histogram_pass`` (block by block, no copy
    of the scores) and gives the thresholds of the library's ``fit(..., bins=)``."""
    folder, scores, labels, _ = work
    passes = []
    real_pass = jaxthresh.histogram_pass
    monkeypatch.setattr(
        jaxthresh, "histogram_pass", lambda *a, **k: passes.append(k) or real_pass(*a, **k)
    )
    succeeded(["fit", *FIT[1:], "--bins=16", "--output=o.json"])
    assert passes == [{"bins": 16}]
    record = schema.read_thresholds(folder / "o.json")
    expected = jaxthresh.fit_exact(scores, labels, bins=16)
    np.testing.assert_array_equal(record.thresholds, np.asarray(expected.thresholds))
    reached = jaxthresh.f1_score(labels, scores > np.asarray(expected.thresholds))
    assert record.score == pytest.approx(float(reached), abs=1e-6)


# Issue 19's cases whose cause lies in the library, as the tool shows them.


@pytest.mark.parametrize("method", ["exact", "sgl", "default"])
def test_float64_scores_float32_cannot_keep_apart_are_warned_by_the_tool(work, method):
    folder, scores, _, _ = work
    np.save(folder / "s_shifted.npy", scores.astype(np.float64) + 1e8)
    ran = succeeded(
        ["fit", "--scores=s_shifted.npy", "--labels=l.npy", f"--method={method}", "--output=o.json"]
    )
    lines = _warning_lines(ran.stderr)
    assert any(
        line.startswith("jaxthresh: warning: scores: float32 cannot keep apart the float64")
        and "exact included" in line
        for line in lines
    ), lines
    assert not any("use method exact" in line for line in lines), lines
    assert json.loads((folder / "o.json").read_text())["method"] == method


EXACT_FIT = ["fit", "--scores=s.npy", "--labels=l.npy", "--method=exact", "--output=o.json"]


@pytest.mark.parametrize("beta", ["1e-20", "1e20", "0", "-1", "nan", "1e-5", "2e4"])
def test_a_beta_float32_cannot_weigh_is_one_error_line(work, beta):
    folder = work[0]
    refused(
        folder,
        [*EXACT_FIT, f"--beta={beta}"],
        r"^jaxthresh: error: beta: fbeta's beta must be between 0\.0001 and 10000, "
        "got " + re.escape(repr(float(beta))) + "$",
    )


def test_the_extreme_betas_accepted_are_named_readably(work):
    for beta, name in (("1e-4", "micro-F0.0001"), ("1e4", "micro-F10000")):
        ran = succeeded([*EXACT_FIT, f"--beta={beta}"])
        assert name in ran.stdout, ran.stdout
