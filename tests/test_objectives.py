"""Objectives as values: every named objective equals scikit-learn's metric on the same
predictions, per class and averaged; values are pytrees that jit and vmap carry; bad
objectives are one ValueError naming ``objective``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics

from jaxthresh import objectives
from jaxthresh.objectives import Confusion


def _problem(seed, rows=40, classes=5):
    rng = np.random.default_rng(seed)
    labels = rng.random((rows, classes)) < rng.uniform(0.05, 0.6, classes)
    predictions = rng.random((rows, classes)) < rng.uniform(0.05, 0.6, classes)
    return labels, predictions


def _counts(labels, predictions) -> Confusion:
    return Confusion(
        (labels & predictions).sum(0),
        (~labels & predictions).sum(0),
        (labels & ~predictions).sum(0),
        (~labels & ~predictions).sum(0),
    )


def _columns(metric, labels, predictions):
    return np.array([metric(labels[:, j], predictions[:, j]) for j in range(labels.shape[1])])


# scikit-learn's metric per class, and micro (on the labels pooled over classes).
REFERENCE = {
    "f1": lambda y, p: metrics.f1_score(y, p, zero_division=1.0),
    "jaccard": lambda y, p: metrics.jaccard_score(y, p, zero_division=1.0),
    "precision": lambda y, p: metrics.precision_score(y, p, zero_division=1.0),
    "recall": lambda y, p: metrics.recall_score(y, p, zero_division=1.0),
    "accuracy": metrics.accuracy_score,
    "mcc": metrics.matthews_corrcoef,
}


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
@pytest.mark.parametrize("name", list(REFERENCE))
def test_named_objectives_equal_scikit_learn(name, seed):
    labels, predictions = _problem(seed)
    objective = objectives.get(name)
    counts = _counts(labels, predictions)
    expected = _columns(REFERENCE[name], labels, predictions)
    np.testing.assert_allclose(objective.per_class(counts), expected, rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(objective.averaged(counts, "macro"), expected.mean(), atol=1e-6)
    micro = REFERENCE[name](labels.ravel(), predictions.ravel())
    np.testing.assert_allclose(objective.averaged(counts, "micro"), micro, rtol=2e-6, atol=1e-6)
    support = labels.sum(0)
    if support.sum():
        weighted = (expected * support).sum() / support.sum()
        np.testing.assert_allclose(objective.averaged(counts, "weighted"), weighted, atol=1e-6)


def test_balanced_accuracy_equals_scikit_learn_per_class():
    labels, predictions = _problem(3)
    counts = _counts(labels, predictions)
    expected = _columns(metrics.balanced_accuracy_score, labels, predictions)
    np.testing.assert_allclose(
        objectives.get("balanced_accuracy").per_class(counts), expected, rtol=2e-6
    )


@pytest.mark.parametrize("beta", [0.5, 2.0])
def test_fbeta_equals_scikit_learn(beta):
    labels, predictions = _problem(4)
    counts = _counts(labels, predictions)
    expected = metrics.fbeta_score(labels, predictions, beta=beta, average=None, zero_division=1.0)
    np.testing.assert_allclose(objectives.fbeta(beta).per_class(counts), expected, rtol=2e-6)


def test_utility_is_the_total_gain_and_takes_per_class_coefficients():
    labels, predictions = _problem(5)
    counts = _counts(labels, predictions)
    tp, fp, fn, _ = (np.asarray(c, np.float64) for c in counts)
    gain = objectives.utility(tp=1.0, fp=-0.2, fn=-1.0)
    np.testing.assert_allclose(gain.per_class(counts), tp - 0.2 * fp - fn, rtol=1e-6)
    np.testing.assert_allclose(gain.averaged(counts, "micro"), (tp - 0.2 * fp - fn).sum())
    costs = -np.arange(1.0, 6.0)
    per_class = objectives.utility(tp=1.0, fn=costs)
    np.testing.assert_allclose(per_class.per_class(counts), tp + costs * fn, rtol=1e-6)
    assert gain.fraction(0, 0).denominator.tolist() == [0, 0, 0, 0, 1]


def test_custom_objectives_score_as_their_function():
    labels, predictions = _problem(6)
    counts = _counts(labels, predictions)
    youden = objectives.custom(lambda tp, fp, fn, tn: tp / (tp + fn) + tn / (tn + fp) - 1)
    expected = _columns(metrics.balanced_accuracy_score, labels, predictions) * 2 - 1
    np.testing.assert_allclose(youden.per_class(counts), expected, rtol=1e-5, atol=1e-6)
    assert youden.fraction(1, 1) is None
    assert objectives.get("mcc").fraction(1, 1) is None


def test_objectives_are_pytrees_that_jit_and_vmap_carry():
    labels, predictions = _problem(7)
    counts = _counts(labels, predictions)
    betas = jnp.array([0.5, 1.0, 2.0])
    swept = jax.vmap(lambda b: objectives.fbeta(b).averaged(counts, "macro"))(betas)
    one_by_one = [objectives.fbeta(float(b)).averaged(counts, "macro") for b in betas]
    np.testing.assert_allclose(swept, one_by_one, rtol=1e-6)
    stacked = jax.tree.map(lambda *v: jnp.stack(v), *(objectives.fbeta(b) for b in (0.5, 2.0)))
    scored = jax.jit(jax.vmap(lambda o: o.averaged(counts)))(stacked)
    np.testing.assert_allclose(scored, [objectives.fbeta(b).averaged(counts) for b in (0.5, 2.0)])
    leaves, structure = jax.tree.flatten(objectives.utility(tp=1.0, fp=-1.0))
    assert len(leaves) == 1 and leaves[0].shape == (4,)
    assert jax.tree.unflatten(structure, leaves).name == "utility"


def test_counts_of_any_batch_shape():
    labels, predictions = _problem(8)
    counts = _counts(labels, predictions)
    batched = Confusion(*(np.stack([c, c]) for c in counts))
    for name in ("f1", "balanced_accuracy", "mcc"):
        objective = objectives.get(name)
        for average in objectives.AVERAGES:
            once = objective.averaged(counts, average)
            np.testing.assert_allclose(objective.averaged(batched, average), [once, once])


def test_empty_classes_score_the_zero_division_value():
    empty = Confusion(*(np.zeros(2) for _ in range(3)), np.array([5.0, 0.0]))
    assert objectives.get("f1").per_class(empty).tolist() == [1.0, 1.0]
    assert objectives.get("jaccard").per_class(empty, zero_division=0.0).tolist() == [0.0, 0.0]
    assert objectives.get("mcc").per_class(empty).tolist() == [0.0, 0.0]
    assert objectives.get("balanced_accuracy").per_class(empty).tolist() == [1.0, 0.0]


BAD = {
    "an unknown name": (lambda: "f2", r"unknown name 'f2'"),
    "a number": (lambda: 1.0, r"expected a name or a jaxthresh\.objectives value"),
    "beta of 0": (lambda: objectives.fbeta(0.0), r"beta must be between"),
    "beta NaN": (lambda: objectives.fbeta(float("nan")), r"beta must be between"),
    "beta a list": (lambda: objectives.fbeta([1.0, 2.0]), r"beta must be a number"),
    "utility NaN": (lambda: objectives.utility(tp=float("nan")), r"must be finite"),
    "utility all 0": (lambda: objectives.utility(), r"all 0"),
    "utility lengths": (lambda: objectives.utility(tp=[1, 2], fp=[1, 2, 3]), r"the same length"),
    "utility 2-D": (lambda: objectives.utility(tp=[[1.0]]), r"a number or one per class"),
    "utility of 3 classes": (lambda: objectives.utility(tp=[1.0, 2.0, 3.0]), r"for 3 classes"),
    "custom not callable": (lambda: objectives.custom(3), r"needs a function"),
    "custom a scalar": (lambda: objectives.custom(lambda *counts: counts[0].sum()), "one real"),
    "custom raising": (
        lambda: objectives.custom(lambda *counts: counts[0] @ counts[1] @ 1),
        "fails",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_objectives_are_one_error_naming_objective(case):
    value, message = BAD[case]
    with pytest.raises(ValueError, match=rf"^objective: .*{message}"):
        objectives.get(value(), n_classes=5)


# ---- Objectives through the fits: jit, vmap, sweeps, the methods' own errors. ----

FAST = {
    "default": {},
    "dicho": {"steps": 4, "coarse_points": 5, "candidates": 4},
    "numerical": {"epochs": 4, "init": 0.4},
    "sgl": {"epochs": 4, "init": 0.4},
    "exact": {},
    "constrained": {"min_precision": 0.4},
}
# Non-default objectives, each with an average it has an exact search for.
FIT_OBJECTIVES = {
    "jaccard macro": ("jaccard", "macro"),
    "utility micro": (objectives.utility(tp=1.0, fp=-0.3, fn=-1.0, tn=0.05), "micro"),
    "fbeta weighted": (objectives.fbeta(2.0), "weighted"),
}


def _fit_problem(seed, rows=48, classes=4):
    from tests.conftest import random_problem

    return random_problem(seed, rows, classes, ties=True)


# SGLThresh and the exact search with a non-default objective here; every method with every
# objective in the slow run (each pair compiles three programs).
PAIRS = [("sgl", "utility micro"), ("exact", "jaccard macro")]
SLOW_PAIRS = [
    pytest.param(method, objective, marks=pytest.mark.slow)
    for method in FAST
    for objective in FIT_OBJECTIVES
    if (method, objective) not in PAIRS
]


@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")
@pytest.mark.parametrize(("method", "objective"), [*PAIRS, *SLOW_PAIRS])
def test_jit_equals_eager_and_vmap_a_loop_with_an_objective(method, objective):
    import jaxthresh

    value, average = FIT_OBJECTIVES[objective]
    options = {**FAST[method], "objective": value, "average": average}
    problems = [_fit_problem(seed) for seed in range(3)]
    eager = [jaxthresh.fit(method, s, y, **options).thresholds for s, y in problems]
    jitted = jax.jit(lambda s, y: jaxthresh.fit(method, s, y, **options).thresholds)
    scores = jnp.stack([s for s, _ in problems])
    labels = jnp.stack([y for _, y in problems])
    mapped = jax.vmap(lambda s, y: jaxthresh.fit(method, s, y, **options).thresholds)(
        scores, labels
    )
    for index, (s, y) in enumerate(problems):
        np.testing.assert_allclose(jitted(s, y), eager[index], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mapped[index], eager[index], rtol=1e-5, atol=1e-6)


def test_a_sweep_over_fbeta_runs_in_one_call_and_equals_each_cross_validation():
    import jaxthresh

    scores, labels = _fit_problem(5, rows=90)
    betas = [0.5, 1.0, 2.0]
    swept = jaxthresh.sweep(scores, labels, "exact", objective=[objectives.fbeta(b) for b in betas])
    assert swept.heldout_score.shape == (3, 3)
    for point, beta in enumerate(betas):
        alone = jaxthresh.cross_validate(scores, labels, "exact", objective=objectives.fbeta(beta))
        np.testing.assert_allclose(swept.heldout_score[point], alone.heldout_score, rtol=1e-6)
        np.testing.assert_array_equal(swept.thresholds[point], alone.thresholds)
    # F2 rewards recall: its thresholds are no higher than F0.5's, class by class.
    assert np.all(np.asarray(swept.thresholds[2]) <= np.asarray(swept.thresholds[0]))


def test_a_sweep_over_objectives_of_different_forms_is_refused():
    import jaxthresh

    scores, labels = _fit_problem(6)
    with pytest.raises(ValueError, match=r"^objective: the values swept must be of one form"):
        jaxthresh.sweep(scores, labels, "exact", objective=["f1", "jaccard"])


@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")
@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("exact", "mcc"),
        *(
            pytest.param(method, name, marks=pytest.mark.slow)
            for method in ("exact", "constrained", "auto")
            for name in ("mcc", "custom")
            if (method, name) != ("exact", "mcc")
        ),
    ],
)
def test_micro_objectives_without_an_exact_search_are_refused(method, name):
    import jaxthresh

    scores, labels = _fit_problem(7)
    value = objectives.custom(lambda tp, fp, fn, tn: tp - fp) if name == "custom" else name
    options = {"min_precision": 0.5} if method == "constrained" else {}
    with pytest.raises(ValueError, match=r"^objective: .*sgl, numerical or dicho"):
        jaxthresh.fit(method, scores, labels, objective=value, average="micro", **options)
    if method != "auto":  # macro is exact per class (auto's fit is slow: the CV runs it)
        fitted = jaxthresh.fit(method, scores, labels, objective=value, average="macro", **options)
        assert fitted.thresholds.shape == (scores.shape[1],)
    if method == "exact":  # the iterative methods take micro
        sgl = jaxthresh.fit_sgl(scores, labels, objective=value, average="micro", epochs=3)
        assert np.all(np.isfinite(np.asarray(sgl.history)))


@pytest.mark.parametrize("case", list(BAD))
def test_bad_objectives_given_to_a_fit_name_objective(case):
    import jaxthresh

    value, message = BAD[case]
    scores, labels = _fit_problem(8, classes=5)
    with pytest.raises(ValueError, match=rf"^objective: .*{message}"):
        jaxthresh.fit_sgl(scores, labels, objective=value(), epochs=2)


def test_sgl_raises_jaccard_on_dcase2017_and_stays_below_the_exact_optimum(benchmark_dir):
    import jaxthresh

    with np.load(benchmark_dir / "dcase2017.npz") as data:
        scores, labels = data["valid_scores"], data["valid_labels"].astype(bool)

    def jaccard(thresholds):
        predictions = jaxthresh.apply_thresholds(scores, thresholds)
        return jaxthresh.score_predictions(labels, predictions, objective="jaccard")

    at_half = jaccard(np.full(scores.shape[1], 0.5, np.float32))
    sgl = jaccard(jaxthresh.fit_sgl(scores, labels, objective="jaccard").thresholds)
    best = jaxthresh.fit_exact(scores, labels, objective="jaccard")
    assert sgl > at_half + 0.05, (sgl, at_half)
    assert sgl <= float(best.score) + 1e-6
    assert jaccard(best.thresholds) == pytest.approx(float(best.score), abs=1e-6)
