"""The public API: small, documented, and derived from one declaration per method.

For every registered method: ``fit(name, **kw)`` equals ``fit_<name>(**kw)`` for every
hyperparameter; ``jit`` of the public fit equals the eager fit; ``vmap`` over a batch of
problems equals a loop; integer ``sample_weight`` equals repeated rows.
"""

import inspect
import re

import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh import objectives
from jaxthresh.cli import method_flags
from jaxthresh.methods import configure
from tests.conftest import KEPT_METHODS, PROJECT_ROOT, random_problem, slow_except

SCORES, LABELS = random_problem(30, rows=48, classes=3)
# Fast settings shared by the tests below, so that they reuse compiled fits.
FAST = {
    "sgl": {"epochs": 6},
    "numerical": {"epochs": 6},
    "dicho": {"steps": 5},
    "auto": {"inner_folds": 3},
    "constrained": {"min_precision": 0.5},  # it needs one of its two constraints
}
# Hyperparameters that replace another of the fast settings (one constraint at a time).
REPLACES = {"min_recall": "min_precision"}
# A value other than the default for every hyperparameter of every method.
OTHER = {
    "init": 0.42,
    "slope": 20.0,
    "learning_rate": 0.03,
    "epochs": 4,
    "learn_slope": False,
    "average": "macro",
    "objective": objectives.fbeta(0.5),
    "bins": 16,
    "kernel": "generic",
    "threshold": 0.45,
    "key": jax.random.key(5),
    "coarse_points": 9,
    "steps": 3,
    "candidates": 4,
    "spread": 0.1,
    "shrink": 0.9,
    "step": 0.02,
    "max_search": 3,
    "inner_folds": 2,
    "folds": "iterative",
    "min_precision": 0.3,
    "min_recall": 0.6,
}
CASES = [
    (method, name)
    for method, declared in jaxthresh.METHODS.items()
    for name in declared.hyperparameters()
]
# The default run: the cases of four methods (the generated fits are one mechanism); the
# slow run: every method's.
PARAMETERS = []
for _method, _name in CASES:
    _kept = _method in ("sgl", "exact", "default", "constrained")
    PARAMETERS.append(pytest.param(_method, _name, marks=() if _kept else pytest.mark.slow))


def _assert_same(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_every_hyperparameter_has_another_value_here():
    for method, name in CASES:
        assert name in OTHER, (method, name)
        default = jaxthresh.METHODS[method].hyperparameters()[name].default
        assert OTHER[name] is not default and not (
            isinstance(default, float | int | str) and OTHER[name] == default
        ), (method, name)


@pytest.mark.parametrize("method, name", PARAMETERS)
def test_fit_by_name_equals_fit_method(method, name):
    kw = {**FAST.get(method, {}), name: OTHER[name]}
    kw.pop(REPLACES.get(name), None)
    by_name = jaxthresh.fit(method, SCORES, LABELS, **kw)
    direct = getattr(jaxthresh, f"fit_{method}")(SCORES, LABELS, **kw)
    assert type(by_name) is jaxthresh.METHODS[method].result_type
    _assert_same(by_name, direct)


#: Every method; auto's case (7 to 15 s: 9 candidates x 6 inner fits, on 3 problems or on
#: repeated rows) runs with the heavier tests in .ci/run.
HEAVY_AUTO = slow_except(jaxthresh.METHODS, ("sgl", "exact"))


@pytest.mark.parametrize("method", slow_except(jaxthresh.METHODS, KEPT_METHODS))
def test_jit_equals_the_eager_fit(method):
    fit = getattr(jaxthresh, f"fit_{method}")
    kw = FAST.get(method, {})
    eager = fit(SCORES, LABELS, **kw)
    jitted = jax.jit(lambda s, y: fit(s, y, **kw))(SCORES, LABELS)
    _assert_same(eager, jitted)


@pytest.mark.parametrize("method", HEAVY_AUTO)
def test_vmap_over_problems_equals_a_loop(method):
    fit = getattr(jaxthresh, f"fit_{method}")
    kw = FAST.get(method, {})
    problems = [random_problem(31 + i, rows=48, classes=3) for i in range(3)]
    scores = np.stack([s for s, _ in problems])
    labels = np.stack([y for _, y in problems])
    batched = jax.vmap(lambda s, y: fit(s, y, **kw))(scores, labels)
    for i in range(3):
        single = fit(scores[i], labels[i], **kw)
        for got, want in zip(jax.tree.leaves(batched), jax.tree.leaves(single), strict=True):
            np.testing.assert_allclose(np.asarray(got)[i], want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("method", HEAVY_AUTO)
def test_integer_sample_weight_equals_repeated_rows(method):
    fit = getattr(jaxthresh, f"fit_{method}")
    kw = FAST.get(method, {})
    # Multiplicities 0 to 3 that sum to the number of rows: the repeated problem has the
    # shape of the weighted one, so both fits share one compiled program.
    weights = np.random.default_rng(32).permutation(np.repeat([0, 2, 0, 3, 1, 0, 1, 1], 6))
    assert weights.sum() == len(SCORES)
    repeated = np.repeat(np.arange(len(SCORES)), weights)
    weighted = fit(SCORES, LABELS, weights, **kw)
    expected = fit(SCORES[repeated], LABELS[repeated], **kw)
    if method == "auto":  # inner folds shuffle rows, which repetition changes: compare refits
        winner = int(weighted.winner)
        refit = jaxthresh.methods.auto.candidate_thresholds
        rows = jaxthresh.core.validation.as_rows(SCORES[repeated], LABELS[repeated])
        expected = refit(rows, objectives.get("f1"), "micro")[winner]
        np.testing.assert_allclose(weighted.thresholds, expected, atol=1e-6)
        return
    for got, want in zip(jax.tree.leaves(weighted), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_boolean_sample_weight_drops_rows():
    kept = np.arange(len(SCORES)) % 4 != 0
    for method in ("exact", "sgl"):
        fit = getattr(jaxthresh, f"fit_{method}")
        kw = FAST.get(method, {})
        _assert_same(
            fit(SCORES, LABELS, kept, **kw).thresholds,
            fit(SCORES[kept], LABELS[kept], **kw).thresholds,
        )


def test_signatures_and_docstrings_come_from_the_declarations():
    for method, declared in jaxthresh.METHODS.items():
        fit = getattr(jaxthresh, f"fit_{method}")
        parameters = inspect.signature(fit).parameters
        names = [*declared.hyperparameters()]
        assert list(parameters) == ["scores", "labels", "sample_weight", *names, "progress"]
        for name, spec in declared.hyperparameters().items():
            assert parameters[name].default is spec.default
            assert f"  {name}: {spec.help}" in fit.__doc__
        assert declared.result_type.__name__ in fit.__doc__


def test_records_and_flags_come_from_the_declarations():
    flags = method_flags.declared()
    for method, declared in jaxthresh.METHODS.items():
        config = configure(method, 3, **FAST.get(method, {}))
        tool = [n for n, spec in declared.hyperparameters().items() if spec.tool]
        assert list(config.record()) == tool
        for name in tool:
            flag = method_flags.flag_name(name, declared.hyperparameters()[name])
            assert method in flags[flag][1]


def test_unknown_hyperparameters_are_named():
    with pytest.raises(
        ValueError, match="method 'exact' does not take slope; it takes objective, average"
    ):
        jaxthresh.fit("exact", SCORES, LABELS, slope=3.0)
    with pytest.raises(ValueError, match="method 'auto' does not take n_folds"):
        jaxthresh.fit_auto(SCORES, LABELS, n_folds=3)


def test_the_public_api_is_small_and_in_the_readme():
    assert len(jaxthresh.__all__) <= 40
    table = (PROJECT_ROOT / "README.md").read_text()
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)", cell)}
    missing = [name for name in jaxthresh.__all__ if name not in documented]
    assert not missing, missing
    for name in jaxthresh.__all__:
        assert getattr(jaxthresh, name).__doc__, name


def test_sharded_rows_fit_as_written_in_the_readme():
    sharded = jaxthresh.shard_rows(SCORES, LABELS)
    result = jaxthresh.fit_sgl(*sharded, init=0.3, epochs=6)
    single = jaxthresh.fit_sgl(SCORES, LABELS, init=0.3, epochs=6)
    np.testing.assert_allclose(result.thresholds, single.thresholds, atol=1e-6)


def test_lower_layers_never_import_higher_ones():
    layers = ["objectives", "core", "methods", "selection|streaming|sharding", "cli"]
    package = PROJECT_ROOT / "jaxthresh"
    for path in package.rglob("*.py"):
        relative = path.relative_to(package).as_posix()
        own = next(
            (i for i, layer in enumerate(layers) if re.match(rf"({layer})(/|\.py)", relative)),
            None,
        )
        if own is None:
            continue
        imported = re.findall(r"^\s*(?:from|import) jaxthresh\.(\w+)", path.read_text(), re.M)
        for module in imported:
            level = next(i for i, layer in enumerate(layers) if re.fullmatch(layer, module))
            assert level <= own, f"{relative} imports jaxthresh.{module}"


#: The methods whose per-label case runs in the default suite; the others (the slowest to
#: compile) run with the heavier tests in .ci/run.
PER_LABEL = slow_except(jaxthresh.METHODS, ("exact", "constrained"))


@pytest.mark.parametrize("method", PER_LABEL)
def test_per_label_weights_equal_to_row_weights_fit_the_same(method):
    # [n, classes] weights whose columns are one row-weight vector are those row weights,
    # for bool (the cpu kernels' -inf masking) and int weights alike.
    fit = getattr(jaxthresh, f"fit_{method}")
    kw = FAST.get(method, {})
    rng = np.random.default_rng(33)
    for rows in (rng.random(len(SCORES)) < 0.8, rng.integers(0, 3, len(SCORES))):
        per_label = np.repeat(rows[:, None], SCORES.shape[1], axis=1)
        expected = fit(SCORES, LABELS, rows, **kw)
        _assert_same(fit(SCORES, LABELS, per_label, **kw), expected)


def test_per_label_weights_leave_labels_out_of_every_count():
    # A macro fit is class by class: with per-label bool weights, each class's threshold
    # is that of the fit on the rows its weights keep.
    kept = np.random.default_rng(34).random(SCORES.shape) < 0.7
    for method in ("exact", "constrained"):
        kw = {"average": "macro"} if method == "exact" else FAST[method]
        fitted = jaxthresh.fit(method, SCORES, LABELS, kept, **kw).thresholds
        for c in range(SCORES.shape[1]):
            rows = kept[:, c]
            alone = jaxthresh.fit(method, SCORES[rows][:, [c]], LABELS[rows][:, [c]], **kw)
            _assert_same(fitted[c], alone.thresholds[0])
    predictions = SCORES > 0.5
    counts = jaxthresh.confusion_counts(LABELS, predictions, kept)
    np.testing.assert_array_equal(counts.true_positives, (LABELS & predictions & kept).sum(0))
    np.testing.assert_array_equal(counts.predicted_positives, (predictions & kept).sum(0))
    np.testing.assert_array_equal(counts.positives, (LABELS & kept).sum(0))


def test_callers_use_the_declared_method_contract():
    # Outside the methods, nothing probes a configuration or a result for attributes, nor
    # branches on a method's name: the base declares bins, slopes, history and describe.
    package = PROJECT_ROOT / "jaxthresh"
    callers = [*package.glob("cli/*.py"), package / "sklearn.py", package / "selection.py"]
    names = "|".join(jaxthresh.METHODS)
    probing = re.compile(rf"hasattr\(result|getattr\(\w+, \"bins\"|\bmethod == \"({names})\"")
    for path in callers:
        assert not probing.search(path.read_text()), path
    for method, declared in jaxthresh.METHODS.items():
        config = configure(method, SCORES.shape[1], **FAST.get(method, {}))
        result = jaxthresh.fit(method, SCORES, LABELS, **FAST.get(method, {}))
        assert config.bins is None
        assert (config.history(result) is None) == ("history" not in result._fields), method
        assert (config.slopes(result) is None) == ("slopes" not in result._fields), method
        assert declared.has_histogram_path() == ("bins" in declared.hyperparameters())
