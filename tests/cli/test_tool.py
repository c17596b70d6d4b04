"""The `jaxthresh` tool, end to end: fit, apply and evaluate on .npy, .npz and .csv files.

Most runs call the tool's ``main`` in this process (``tests.cli.inprocess``): the same
code as the console script, sharing this process's compiled fits instead of importing
JAX and compiling again for every run. The installed console script itself runs in a
new process for ``--help`` and for a run that must not see matplotlib (and, in
``test_plots``, for a whole fit).

Where a test compares the tool with the library it fits with ``progress=True``, as the
tool does: the same compiled program (progress only adds logging), so the comparison
compiles nothing more.
"""

import json
import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh.cli import method_flags, tool
from jaxthresh.methods import configure
from tests.cli.inprocess import run_main
from tests.conftest import random_problem, slow_except

# The tool prints the library's FitWarnings as lines (what these tests check): let them
# reach it as warnings, not as the errors the suite makes of them elsewhere.
pytestmark = pytest.mark.filterwarnings("default::jaxthresh.core.diagnostics.FitWarning")


SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxthresh")
NAMES = ["dog", "cat", "speech", "music"]


def cli(*args):
    """The tool run with these arguments: ``Ran(returncode, stdout, stderr)``."""
    return run_main(tool.main, ["jaxthresh", *map(str, args)])


def script(*args, env=None):
    """The installed console script run in a new process."""
    return subprocess.run([SCRIPT, *args], capture_output=True, text=True, env=env, timeout=300)


def library_fit(method, scores, labels, **hyperparameters):
    return jaxthresh.fit(method, scores, labels, progress=True, **hyperparameters)


def key_data(seed):
    return np.asarray(jax.random.key_data(jax.random.key(seed))).tolist()


def _write_csv(path, header, values):
    lines = [",".join(header)] + [",".join(repr(float(v)) for v in row) for row in values]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The same fitting and new data as .npy, .npz and .csv files."""
    folder = tmp_path_factory.mktemp("inputs")
    scores, labels = random_problem(21, rows=150, classes=4)
    new_scores, new_labels = random_problem(22, rows=60, classes=4)
    np.save(folder / "scores.npy", scores)
    np.save(folder / "labels.npy", labels.astype(np.uint8))
    np.save(folder / "new_scores.npy", new_scores)
    np.save(folder / "new_labels.npy", new_labels.astype(np.uint8))
    np.savez(folder / "data.npz", s=scores, y=labels.astype(np.uint8), class_names=NAMES)
    np.savez(folder / "new.npz", s=new_scores, y=new_labels.astype(np.uint8))
    _write_csv(folder / "scores.csv", NAMES, scores)
    _write_csv(folder / "labels.csv", NAMES, labels.astype(int))
    _write_csv(folder / "new_scores.csv", NAMES, new_scores)
    _write_csv(folder / "new_labels.csv", NAMES, new_labels.astype(int))
    return folder, (scores, labels, new_scores, new_labels)


def formats(folder, kind):
    """(fit inputs, new scores, new labels) flags of one file kind."""
    f = {name: folder / name for name in os.listdir(folder)}
    return {
        "npy": (
            [f"--scores={f['scores.npy']}", f"--labels={f['labels.npy']}"],
            [f"--scores={f['new_scores.npy']}"],
            [f"--labels={f['new_labels.npy']}"],
        ),
        "npz": (
            [
                f"--scores={f['data.npz']}",
                f"--labels={f['data.npz']}",
                "--scores_key=s",
                "--labels_key=y",
            ],
            [f"--scores={f['new.npz']}", "--scores_key=s"],
            [f"--labels={f['new.npz']}", "--labels_key=y"],
        ),
        "csv": (
            [f"--scores={f['scores.csv']}", f"--labels={f['labels.csv']}"],
            [f"--scores={f['new_scores.csv']}"],
            [f"--labels={f['new_labels.csv']}"],
        ),
    }[kind]


# Flags given per method, and the hyperparameters they stand for.
GIVEN = {"sgl": (["--init=0.4"], {"init": 0.4}), "exact": ([], {}), "auto": ([], {})}


@pytest.mark.parametrize(
    "kind, method",
    [
        ("npy", "sgl"),
        ("npz", "exact"),
        ("csv", "auto"),
        *(
            pytest.param(kind, method, marks=pytest.mark.slow)
            for kind in ("npy", "npz", "csv")
            for method in ("sgl", "exact", "auto")
            if (kind, method) not in (("npy", "sgl"), ("npz", "exact"), ("csv", "auto"))
        ),
    ],
)
def test_fit_apply_evaluate(inputs, tmp_path, kind, method):
    folder, (scores, labels, new_scores, new_labels) = inputs
    fit_inputs, new_inputs, new_labels_flag = formats(folder, kind)
    flags_given, hyperparameters = GIVEN[method]
    thresholds_path = tmp_path / "thresholds.json"
    fitted = cli(
        "fit", *fit_inputs, f"--method={method}", *flags_given, f"--output={thresholds_path}"
    )
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(thresholds_path.read_text())
    assert record["format"] == "jaxthresh.thresholds" and record["format_version"] == 2
    assert record["method"] == method and record["n_rows"] == 150
    assert record["class_names"] == (NAMES if kind != "npy" else [f"class_{i}" for i in range(4)])
    assert record["average"] == "micro" and record["objective"] == "f1"
    assert "beta" not in record and "fit_f1" not in record
    # Every hyperparameter the method records, the given ones with their given values.
    assert record["hyperparameters"] == configure(method, 4, **hyperparameters).record()
    for name, value in hyperparameters.items():
        assert record["hyperparameters"][name] == value
    thresholds = np.asarray(record["thresholds"], np.float32)
    assert record["score"] == pytest.approx(jaxthresh.f1_score(labels, scores > thresholds))
    assert _printed_percent(f"{method}: micro-F1", fitted.stdout) == pytest.approx(
        record["score"], abs=5e-5 + 1e-6
    )
    assert (record["slopes"] is None) == (method != "sgl")
    library = library_fit(method, scores, labels, **hyperparameters)
    np.testing.assert_allclose(thresholds, library.thresholds, rtol=1e-6)
    if method == "sgl":
        np.testing.assert_allclose(record["slopes"], library.slopes, rtol=1e-6)
        assert record["summary"] == {}
    if method == "exact":
        assert set(record["summary"]) == {"score", "steps"}
        assert record["summary"]["score"] == pytest.approx(record["score"], abs=1e-6)
        assert record["summary"]["steps"] == int(library.steps) >= 1
    if method == "auto":
        summary = record["summary"]
        assert set(summary) == {"winner", "inner_cv_score"}
        assert summary["winner"] == jaxthresh.CANDIDATES[int(library.winner)]
        estimate = float(library.estimates[int(library.winner)])
        assert summary["inner_cv_score"] == pytest.approx(estimate, abs=1e-6)
        assert f"auto chose {summary['winner']}" in fitted.stdout

    for suffix in ("npy", "csv"):
        output = tmp_path / f"predictions.{suffix}"
        applied = cli("apply", *new_inputs, f"--thresholds={thresholds_path}", f"--output={output}")
        assert applied.returncode == 0, applied.stderr
        if suffix == "npy":
            predictions = np.load(output)
        else:
            predictions = np.loadtxt(output, delimiter=",", skiprows=1)
            assert output.read_text().splitlines()[0].split(",") == record["class_names"]
        np.testing.assert_array_equal(predictions, new_scores.astype(np.float32) > thresholds)

    evaluated = cli(
        "evaluate",
        *new_inputs,
        *new_labels_flag,
        f"--thresholds={thresholds_path}",
        "--format=json",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {row["name"]: row for row in json.loads(evaluated.stdout)}
    micro = jaxthresh.f1_score(new_labels, new_scores > thresholds)
    macro = jaxthresh.f1_score(new_labels, new_scores > thresholds, average="macro")
    assert rows["micro"]["f1"] == pytest.approx(micro)
    assert rows["macro"]["f1"] == pytest.approx(macro)
    assert rows[record["class_names"][0]]["support"] == int(new_labels[:, 0].sum())
    markdown = cli("evaluate", *new_inputs, *new_labels_flag, f"--thresholds={thresholds_path}")
    assert markdown.returncode == 0, markdown.stderr
    assert "| micro |" in markdown.stdout and "| precision |" in markdown.stdout
    assert "\nthe file's objective, micro-F1: " in markdown.stdout
    assert _printed_percent("the file's objective, micro-F1:", markdown.stdout) == pytest.approx(
        micro, abs=5e-5 + 1e-6
    )


@pytest.mark.parametrize("method", slow_except(["sgl", "exact", "numerical"], ["sgl"]))
def test_fit_with_bins_records_them_and_matches_the_library(inputs, tmp_path, method):
    """No other flag: the method's defaults (sgl and numerical start at the best single
    threshold), on a 64-cell histogram."""
    folder, (scores, labels, _, _) = inputs
    output = tmp_path / "thresholds.json"
    fitted = cli(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--method={method}",
        "--bins=64",
        f"--output={output}",
    )
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(output.read_text())
    assert record["hyperparameters"]["bins"] == 64
    assert record["hyperparameters"] == configure(method, 4, bins=64).record()
    if method != "exact":
        assert record["hyperparameters"]["init"] is None  # not given: the method's default
    expected = library_fit(method, scores, labels, bins=64).thresholds
    np.testing.assert_allclose(record["thresholds"], expected, rtol=1e-6)


def test_seed_is_the_key_of_dicho_and_is_recorded(inputs, tmp_path):
    folder, (scores, labels, _, _) = inputs
    fit = ["fit", f"--scores={folder / 'scores.npy'}", f"--labels={folder / 'labels.npy'}"]
    records = {}
    for seed, flags_given in ((3, ["--seed=3"]), (0, [])):
        output = tmp_path / f"seed_{seed}.json"
        fitted = cli(*fit, "--method=dicho", *flags_given, f"--output={output}")
        assert fitted.returncode == 0, fitted.stderr
        records[seed] = json.loads(output.read_text())
        assert records[seed]["hyperparameters"]["key"] == key_data(seed)
        expected = library_fit("dicho", scores, labels, key=jax.random.key(seed))
        np.testing.assert_allclose(records[seed]["thresholds"], expected.thresholds, rtol=1e-6)
    assert records[3]["hyperparameters"] == configure("dicho", 4, key=jax.random.key(3)).record()


def _bad_cases():
    """{name: (arguments from (inputs folder, bad files folder, a good thresholds file),
    message regex)}: inputs that must fail cleanly."""

    def fit(f, *more):
        return ["fit", f"--labels={f / 'labels.npy'}", *more]

    return {
        "truncated npz": (
            lambda f, b, g: fit(f, f"--scores={b / 'truncated.npz'}"),
            "scores: cannot read",
        ),
        "plot_dir is a file": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", f"--plot_dir={b / 'a_file'}"),
            "plot_dir: cannot create",
        ),
        "seed too large": (
            lambda f, b, g: fit(
                f, f"--scores={f / 'scores.npy'}", "--method=dicho", "--seed=99999999999999999999"
            ),
            r"seed: must be in \[0, 2\*\*32\)",
        ),
        "seed for sgl": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--method=sgl", "--seed=3"),
            "seed: method 'sgl' does not take --seed; it takes --init, ",
        ),
        "seed for the default method": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--seed=3"),
            "seed: method 'sgl' does not take --seed",
        ),
        "threshold for sgl": (
            lambda f, b, g: fit(
                f, f"--scores={f / 'scores.npy'}", "--method=sgl", "--threshold=0.3"
            ),
            "threshold: method 'sgl' does not take --threshold; it takes --init, ",
        ),
        "init for exact": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--method=exact", "--init=0.4"),
            "init: method 'exact' does not take --init; it takes --objective, --average, --bins",
        ),
        "epochs too large": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--epochs=100000000000"),
            r"epochs: must be >= 1 and < 2\*\*31",
        ),
        "more inner folds than rows": (
            lambda f, b, g: fit(
                f, f"--scores={f / 'scores.npy'}", "--method=auto", "--inner_folds=200"
            ),
            "inner_folds: 200 inner folds need at least 200 fitting rows, got 150",
        ),
        "bins for default": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--method=default", "--bins=8"),
            "bins: method 'default' does not take --bins; "
            "it takes --threshold, --objective, --average",
        ),
        "infinite threshold": (
            lambda f, b, g: fit(
                f, f"--scores={f / 'scores.npy'}", "--method=default", "--threshold=inf"
            ),
            "threshold: must be finite",
        ),
        "bins 0": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--bins=0"),
            "bins: must be >= 1",
        ),
        "labels with other class names": (
            lambda f, b, g: [
                "evaluate",
                f"--scores={f / 'new_scores.csv'}",
                f"--labels={b / 'other_labels.csv'}",
                f"--thresholds={g}",
            ],
            "labels: class 0 is 'x' in the labels but 'dog' in the scores",
        ),
        "missing file": (
            lambda f, b, g: fit(f, f"--scores={b / 'missing.npy'}"),
            "scores: file not found",
        ),
        "unknown file type": (
            lambda f, b, g: fit(f, f"--scores={b / 'scores.txt'}"),
            "scores: unknown file type '.txt'",
        ),
        "broken npy": (
            lambda f, b, g: fit(f, f"--scores={b / 'broken.npy'}"),
            r"scores: .*broken.npy is not a NumPy \.npy file \(it starts with the text 'not a ",
        ),
        "NaN score": (lambda f, b, g: fit(f, f"--scores={b / 'nan.npy'}"), "scores: 1 value.* NaN"),
        "labels of another shape": (
            lambda f, b, g: [
                "fit",
                f"--scores={f / 'scores.npy'}",
                f"--labels={b / 'short_labels.npy'}",
            ],
            "labels: shape",
        ),
        "unknown method": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--method=magic"),
            "unknown method 'magic'",
        ),
        "unknown average": (
            lambda f, b, g: fit(f, f"--scores={f / 'scores.npy'}", "--average=mean"),
            "average",
        ),
        "npz without the key": (
            lambda f, b, g: ["fit", f"--scores={f / 'data.npz'}", f"--labels={f / 'labels.npy'}"],
            "has no array 'scores'",
        ),
        "fewer classes than the file": (
            lambda f, b, g: ["apply", f"--scores={b / 'three.npy'}", f"--thresholds={g}"],
            "the file has 4 classes, the scores have 3",
        ),
        "renamed class": (
            lambda f, b, g: ["apply", f"--scores={b / 'renamed.csv'}", f"--thresholds={g}"],
            "class 1 is 'cat' in the file but 'cow' in the scores",
        ),
        "thresholds not json": (
            lambda f, b, g: [
                "apply",
                f"--scores={f / 'scores.npy'}",
                f"--thresholds={b / 'nan.npy'}",
            ],
            "thresholds: cannot read",
        ),
        "evaluate without labels": (
            lambda f, b, g: ["evaluate", f"--scores={f / 'scores.npy'}", f"--thresholds={g}"],
            "labels: --labels is required for evaluate",
        ),
        "unknown command": (
            lambda f, b, g: ["frobnicate"],
            "command: expected one of fit, apply, evaluate",
        ),
        "unknown flag": (lambda f, b, g: ["fit", "--no_such_flag=1"], "Unknown command line flag"),
    }


BAD_CASES = _bad_cases()


@pytest.fixture(scope="module")
def bad_files(inputs, tmp_path_factory):
    """(inputs folder, a folder of bad files, a good thresholds file)."""
    folder, _ = inputs
    bad = tmp_path_factory.mktemp("bad")
    nan_scores = np.load(folder / "scores.npy")
    nan_scores[3, 1] = np.nan
    np.save(bad / "nan.npy", nan_scores)
    np.save(bad / "three.npy", np.load(folder / "scores.npy")[:, :3])
    np.save(bad / "short_labels.npy", np.load(folder / "labels.npy")[:10])
    (bad / "scores.txt").write_text("1 2 3\n")
    (bad / "broken.npy").write_bytes(b"not a numpy file")
    _write_csv(
        bad / "renamed.csv", ["dog", "cow", "speech", "music"], np.load(folder / "new_scores.npy")
    )
    good = bad / "good.json"
    fitted = cli(
        "fit",
        f"--scores={folder / 'scores.csv'}",
        f"--labels={folder / 'labels.csv'}",
        "--method=exact",
        f"--output={good}",
    )
    assert fitted.returncode == 0, fitted.stderr
    (bad / "truncated.npz").write_bytes((folder / "data.npz").read_bytes()[:200])
    (bad / "a_file").write_text("")
    _write_csv(bad / "other_labels.csv", ["x", "y", "z", "w"], np.load(folder / "new_labels.npy"))
    return folder, bad, good


@pytest.mark.parametrize("case", list(BAD_CASES))
def test_bad_input_is_one_line_status_2_and_no_output(bad_files, tmp_path, case):
    arguments, message = BAD_CASES[case]
    arguments = arguments(*bad_files)
    output = tmp_path / ("out.json" if arguments[0] == "fit" else "out.npy")
    if arguments[0] in ("fit", "apply"):  # evaluate takes no --output
        arguments = [*arguments, f"--output={output}"]
    result = cli(*arguments)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (arguments, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("jaxthresh: error:"), (arguments, result.stderr)
    assert re.search(message, lines[0]), (message, lines[0])
    assert not output.exists(), arguments


def test_plot_dir_without_matplotlib_is_one_line(inputs, tmp_path):
    """The installed script, in a process that cannot import matplotlib."""
    folder, _ = inputs
    hide = tmp_path / "hide"
    (hide / "matplotlib").mkdir(parents=True)
    (hide / "matplotlib" / "__init__.py").write_text("raise ImportError('hidden for a test')\n")
    env = dict(os.environ, PYTHONPATH=str(hide))
    output = tmp_path / "t.json"
    result = script(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--output={output}",
        f"--plot_dir={tmp_path / 'plots'}",
        env=env,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jaxthresh: error: plot_dir: plotting needs matplotlib; install the plot extra: "
        "pip install 'jaxthresh[plot]'"
    ]
    assert not output.exists()


def test_help_documents_every_flag():
    result = script("--help")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    hyperparameter_flags = set(method_flags.names())
    assert {"init", "slope", "learning_rate", "epochs", "seed", "threshold", "bins"} <= (
        hyperparameter_flags
    )
    assert {"objective", "beta", "utility"} <= hyperparameter_flags
    expected = sorted(
        hyperparameter_flags
        | {
            "scores",
            "labels",
            "scores_key",
            "labels_key",
            "class_names",
            "method",
            "average",
            "thresholds",
            "output",
            "format",
            "plot_dir",
            "no_header",
        }
    )
    missing = [
        flag
        for flag in expected
        if f"--{flag}:" not in result.stdout and f"--[no]{flag}:" not in result.stdout
    ]
    assert missing == []
    # Each hyperparameter flag names the methods that take it.
    text = " ".join(result.stdout.split())
    assert "Methods: dicho, auto;" in text.split("--seed:")[1].split(" --")[0]
    assert "--kernel:" not in result.stdout  # sgl's kernel is not a tool flag


def test_output_that_is_a_folder_is_refused_before_fitting(inputs, tmp_path):
    folder, _ = inputs
    result = cli(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--output={tmp_path}",
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jaxthresh: error: output: {tmp_path} is a folder; give a file name"
    ]


def test_integer_class_names_round_trip(inputs, tmp_path):
    _, (scores, labels, _, _) = inputs  # the shape of the other fits: nothing to compile
    names = np.array([1, 2, 3, 4])
    np.savez(tmp_path / "d.npz", scores=scores, labels=labels, class_names=names)
    fitted = cli(
        "fit",
        f"--scores={tmp_path / 'd.npz'}",
        f"--labels={tmp_path / 'd.npz'}",
        "--method=exact",
        f"--output={tmp_path / 't.json'}",
    )
    assert fitted.returncode == 0, fitted.stderr
    assert json.loads((tmp_path / "t.json").read_text())["class_names"] == ["1", "2", "3", "4"]
    applied = cli(
        "apply",
        f"--scores={tmp_path / 'd.npz'}",
        f"--thresholds={tmp_path / 't.json'}",
        f"--output={tmp_path / 'p.npy'}",
    )
    assert applied.returncode == 0, applied.stderr
    assert np.load(tmp_path / "p.npy").shape == (150, 4)


def _fit_objective(folder, output, *flags_given, method="exact"):
    """``jaxthresh fit`` of the .npy inputs with these objective flags."""
    return cli(
        "fit",
        f"--scores={folder / 'scores.npy'}",
        f"--labels={folder / 'labels.npy'}",
        f"--method={method}",
        *flags_given,
        f"--output={output}",
    )


def _counts(scores, labels, thresholds):
    """NumPy per-class ``(tp, fp, fn, tn)`` of ``scores > thresholds``, as int64."""
    predicted = scores > np.asarray(thresholds, np.float32)
    labels = np.asarray(labels, bool)
    return tuple(
        np.count_nonzero(mask, axis=0)
        for mask in (
            predicted & labels,
            predicted & ~labels,
            ~predicted & labels,
            ~predicted & ~labels,
        )
    )


def _printed_percent(line_start, text):
    """The percentage printed after ``line_start`` in ``text``, as a fraction."""
    found = re.search(re.escape(line_start) + r" (-?[0-9.]+)%", text)
    assert found, (line_start, text)
    return float(found.group(1)) / 100


def test_fit_maximizes_and_records_jaccard(inputs, tmp_path):
    folder, (scores, labels, new_scores, new_labels) = inputs
    output = tmp_path / "thresholds.json"
    fitted = _fit_objective(folder, output, "--objective=jaccard")
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(output.read_text())
    assert record["objective"] == "jaccard" and record["average"] == "micro"
    assert record["hyperparameters"]["objective"] == "jaccard"
    thresholds = np.asarray(record["thresholds"], np.float32)
    tp, fp, fn, _ = (c.sum() for c in _counts(scores, labels, thresholds))
    jaccard = tp / (tp + fp + fn)
    assert record["score"] == pytest.approx(jaccard, abs=1e-6)
    # Jaccard's thresholds, not F1's: the library's exact Jaccard fit, which F1's
    # thresholds do not beat.
    library = library_fit("exact", scores, labels, objective="jaccard")
    np.testing.assert_array_equal(thresholds, library.thresholds)
    f1_thresholds = library_fit("exact", scores, labels).thresholds
    tp1, fp1, fn1, _ = (c.sum() for c in _counts(scores, labels, f1_thresholds))
    assert tp1 / (tp1 + fp1 + fn1) <= jaccard + 1e-9
    assert _printed_percent("exact: micro-jaccard", fitted.stdout) == pytest.approx(
        jaccard, abs=5e-5 + 1e-9
    )
    assert " on 150 rows; 4 thresholds written to " in fitted.stdout

    # evaluate prints the file's objective on the new rows after the table.
    evaluated = cli(
        "evaluate",
        f"--scores={folder / 'new_scores.npy'}",
        f"--labels={folder / 'new_labels.npy'}",
        f"--thresholds={output}",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    tp, fp, fn, _ = (c.sum() for c in _counts(new_scores, new_labels, thresholds))
    last = evaluated.stdout.strip().splitlines()[-1]
    assert last.startswith("the file's objective, micro-jaccard: "), evaluated.stdout
    assert _printed_percent("micro-jaccard:", last) == pytest.approx(
        tp / (tp + fp + fn), abs=5e-5 + 1e-9
    )
    # JSON output stays the table alone.
    as_json = cli(
        "evaluate",
        f"--scores={folder / 'new_scores.npy'}",
        f"--labels={folder / 'new_labels.npy'}",
        f"--thresholds={output}",
        "--format=json",
    )
    assert as_json.returncode == 0, as_json.stderr
    assert isinstance(json.loads(as_json.stdout), list)


@pytest.mark.parametrize(
    "flags_given", [["--beta=2"], ["--objective=fbeta", "--beta=2"]], ids=["beta", "fbeta"]
)
def test_beta_alone_is_fbeta(inputs, tmp_path, flags_given):
    folder, (scores, labels, _, _) = inputs
    output = tmp_path / "thresholds.json"
    fitted = _fit_objective(folder, output, *flags_given)
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(output.read_text())
    assert record["objective"] == {"name": "fbeta", "beta": 2.0}
    thresholds = np.asarray(record["thresholds"], np.float32)
    tp, fp, fn, _ = (c.sum() for c in _counts(scores, labels, thresholds))
    assert record["score"] == pytest.approx(5 * tp / (5 * tp + 4 * fn + fp), abs=1e-6)
    assert "exact: micro-F2 " in fitted.stdout


def test_utility_is_the_total_gain(inputs, tmp_path):
    folder, (scores, labels, new_scores, new_labels) = inputs
    output = tmp_path / "thresholds.json"
    fitted = _fit_objective(folder, output, "--utility=1,-0.2,-1,0")
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(output.read_text())
    assert record["objective"] == {"name": "utility", "tp": 1.0, "fp": -0.2, "fn": -1.0, "tn": 0.0}

    def gain(thresholds, scores=scores, labels=labels):
        tp, fp, fn, tn = (c.sum() for c in _counts(scores, labels, thresholds))
        return 1.0 * tp - 0.2 * fp - 1.0 * fn + 0.0 * tn

    thresholds = np.asarray(record["thresholds"], np.float32)
    assert record["score"] == pytest.approx(gain(thresholds), rel=1e-6, abs=1e-5)
    # The best total gain: no better than F1's thresholds, one threshold for every class,
    # or predicting every row or none.
    f1_thresholds = np.asarray(library_fit("exact", scores, labels).thresholds)
    for other in (f1_thresholds, np.full(4, 0.5), np.full(4, -1.0), np.full(4, 2.0)):
        assert gain(other) <= gain(thresholds) + 1e-6
    # A utility prints as a number, not a percentage.
    assert f"exact: micro-utility {gain(thresholds):.6g} on 150 rows" in fitted.stdout
    evaluated = cli(
        "evaluate",
        f"--scores={folder / 'new_scores.npy'}",
        f"--labels={folder / 'new_labels.npy'}",
        f"--thresholds={output}",
    )
    assert evaluated.returncode == 0, evaluated.stderr
    last = evaluated.stdout.strip().splitlines()[-1]
    new_gain = gain(thresholds, new_scores, new_labels)
    assert last == f"the file's objective, micro-utility: {new_gain:.6g}"


@pytest.mark.parametrize(
    ("flags_given", "flag"),
    [
        (["--objective=nope"], "objective"),
        (["--objective=fbeta"], "beta"),
        (["--beta=2", "--objective=jaccard"], "beta"),
        (["--utility=1,2"], "utility"),
        (["--utility=1,a,0,0"], "utility"),
        (["--objective=utility"], "utility"),
        (["--objective=jaccard", "--utility=1,-1,-1,0"], "utility"),
        (["--objective=custom"], "objective"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_bad_objective_flags_are_one_line_naming_the_flag(inputs, tmp_path, flags_given, flag):
    folder, _ = inputs
    output = tmp_path / "thresholds.json"
    result = _fit_objective(folder, output, *flags_given)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"jaxthresh: error: {flag}: "), lines[0]
    assert not output.exists()


RULES = ("--min_labels=1", "--max_labels=2")


@pytest.fixture(scope="module")
def exact_thresholds(inputs, tmp_path_factory):
    """An exact micro-F1 fit of the .npy inputs: (its file, its float32 thresholds)."""
    folder, _ = inputs
    path = tmp_path_factory.mktemp("rules") / "thresholds.json"
    fitted = _fit_objective(folder, path)
    assert fitted.returncode == 0, fitted.stderr
    return path, np.asarray(json.loads(path.read_text())["thresholds"], np.float32)


def test_apply_and_evaluate_decode_with_min_and_max_labels(inputs, exact_thresholds, tmp_path):
    folder, (_, _, new_scores, new_labels) = inputs
    path, thresholds = exact_thresholds
    compared = new_scores > thresholds
    decoded = jaxthresh.apply_thresholds(new_scores, thresholds, min_labels=1, max_labels=2)
    counts = compared.sum(1)
    assert (counts == 0).any() and (counts > 2).any()  # both rules change some rows
    assert ((decoded.sum(1) >= 1) & (decoded.sum(1) <= 2)).all()
    new = [f"--scores={folder / 'new_scores.npy'}", f"--thresholds={path}"]
    output = tmp_path / "predictions.npy"
    applied = cli("apply", *new, *RULES, f"--output={output}")
    assert applied.returncode == 0, applied.stderr
    np.testing.assert_array_equal(np.load(output), decoded)
    assert applied.stdout.startswith(f"{int(decoded.sum())} positive predictions in 60 rows")
    labels_flag = f"--labels={folder / 'new_labels.npy'}"
    evaluated = cli("evaluate", *new, labels_flag, *RULES, "--format=json")
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {row["name"]: row for row in json.loads(evaluated.stdout)}
    micro = jaxthresh.f1_score(new_labels, decoded)
    assert micro != pytest.approx(jaxthresh.f1_score(new_labels, compared))
    assert rows["micro"]["f1"] == pytest.approx(micro)
    assert rows["macro"]["f1"] == pytest.approx(
        jaxthresh.f1_score(new_labels, decoded, average="macro")
    )
    assert rows["class_0"]["support"] == int(new_labels[:, 0].sum())
    markdown = cli("evaluate", *new, labels_flag, *RULES)
    assert markdown.returncode == 0, markdown.stderr
    assert _printed_percent("the file's objective, micro-F1:", markdown.stdout) == pytest.approx(
        micro, abs=5e-5 + 1e-6
    )
    default = cli("evaluate", *new, labels_flag, "--min_labels=0", "--format=json")
    rows = {row["name"]: row for row in json.loads(default.stdout)}
    assert rows["micro"]["f1"] == pytest.approx(jaxthresh.f1_score(new_labels, compared))


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (["--min_labels=5"], "min_labels: 5 labels per row are more than the 4 classes"),
        (["--min_labels=-1"], "min_labels: must be >= 0"),
        (["--max_labels=0"], "max_labels: must be >= 1"),
        (["--min_labels=2", "--max_labels=1"], r"max_labels: 1 is less than min_labels \(2\)"),
        (["--max_labels=1.5"], "flag --max_labels=1.5"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else None,
)
@pytest.mark.parametrize("command", ["apply", "evaluate"])
def test_bad_rules_are_one_line_status_2(
    inputs, exact_thresholds, tmp_path, command, rules, message
):
    folder, _ = inputs
    output = tmp_path / "predictions.npy"
    arguments = [f"--scores={folder / 'new_scores.npy'}", f"--thresholds={exact_thresholds[0]}"]
    if command == "apply":
        arguments.append(f"--output={output}")
    else:
        arguments.append(f"--labels={folder / 'new_labels.npy'}")
    result = cli(command, *arguments, *rules)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("jaxthresh: error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not output.exists()


def test_rules_are_not_flags_of_fit(inputs, tmp_path):
    folder, _ = inputs
    result = _fit_objective(folder, tmp_path / "t.json", "--min_labels=1")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "jaxthresh: error: min_labels: --min_labels is not a flag of fit (only of apply and "
        "evaluate); see jaxthresh fit --help"
    ]


def test_fit_bootstrap_reports_and_records_each_class_interval(inputs, exact_thresholds):
    folder, (scores, labels, _, _) = inputs
    path = exact_thresholds[0].parent / "bootstrapped.json"
    fitted = _fit_objective(folder, path, "--bootstrap=5")
    assert fitted.returncode == 0, fitted.stderr
    record = json.loads(path.read_text())
    np.testing.assert_array_equal(np.float32(record["thresholds"]), exact_thresholds[1])
    summary = record["summary"]["bootstrap"]
    library = jaxthresh.bootstrap(scores, labels, "exact", n_resamples=5)
    low, high = library.interval(0.95)
    assert summary["n_resamples"] == 5 and summary["level"] == 0.95
    np.testing.assert_allclose(summary["threshold_interval"], np.stack([low, high], 1), rtol=1e-6)
    np.testing.assert_allclose(summary["oob_score_interval"], library.score_interval(), rtol=1e-6)
    np.testing.assert_allclose(summary["bagged_thresholds"], library.bagged(), rtol=1e-6)
    assert "bootstrap of exact on the same rows:" in fitted.stdout
    assert "| class | threshold | 95 % low | 95 % high | width | positives |" in fitted.stdout
    assert f"| class_0 | {exact_thresholds[1][0]:.4g} | {low[0]:.4g} |" in fitted.stdout


def test_evaluate_reports_ap_roc_auc_and_bootstrap_intervals(inputs, exact_thresholds):
    from sklearn.metrics import average_precision_score, roc_auc_score

    folder, (_, _, new_scores, new_labels) = inputs
    path, thresholds = exact_thresholds
    new = [f"--scores={folder / 'new_scores.npy'}", f"--thresholds={path}"]
    labels_flag = f"--labels={folder / 'new_labels.npy'}"
    evaluated = cli("evaluate", *new, labels_flag, "--format=json", "--bootstrap=5")
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {row["name"]: row for row in json.loads(evaluated.stdout)}
    for column in range(4):
        row = rows[f"class_{column}"]
        truth, given = new_labels[:, column], new_scores[:, column]
        assert row["average_precision"] == pytest.approx(average_precision_score(truth, given))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(truth, given))
    assert rows["macro"]["average_precision"] == pytest.approx(
        average_precision_score(new_labels, new_scores, average="macro")
    )
    assert rows["macro"]["roc_auc"] == pytest.approx(roc_auc_score(new_labels, new_scores))
    assert rows["micro"]["average_precision"] is None and rows["micro"]["roc_auc"] is None
    intervals = jaxthresh.resampling.bootstrap_metrics(
        new_labels, new_scores, thresholds, n_resamples=5
    ).intervals()
    np.testing.assert_allclose(rows["micro"]["f1_interval"], intervals["micro_f1"], rtol=1e-6)
    np.testing.assert_allclose(rows["macro"]["f1_interval"], intervals["macro_f1"], rtol=1e-6)
    np.testing.assert_allclose(
        rows["macro"]["average_precision_interval"],
        intervals["mean_average_precision"],
        rtol=1e-6,
    )
    markdown = cli("evaluate", *new, labels_flag, "--bootstrap=5")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith(
        "| class | precision | recall | F1 | support | threshold | AP | ROC AUC |"
    )
    low, high = (100 * v for v in intervals["mean_average_precision"])
    assert "95 % intervals over 5 bootstrap resamples of the rows: " in markdown.stdout
    assert f"mAP [{low:.2f}, {high:.2f}]" in markdown.stdout


@pytest.mark.parametrize("command", ["fit", "evaluate"])
@pytest.mark.parametrize("value", ["1", "0", "-3"])
def test_a_bootstrap_of_fewer_than_2_resamples_is_one_line(inputs, tmp_path, command, value):
    folder, _ = inputs
    arguments = [f"--scores={folder / 'scores.npy'}", f"--labels={folder / 'labels.npy'}"]
    if command == "fit":
        arguments.append(f"--output={tmp_path / 't.json'}")
    else:
        arguments.append(f"--thresholds={tmp_path / 'missing.json'}")
    result = cli(command, *arguments, f"--bootstrap={value}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jaxthresh: error: bootstrap: must be >= 2 and < 2**31, got {value}"
    ], result.stderr
    assert not (tmp_path / "t.json").exists()
