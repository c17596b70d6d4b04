import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core import counting, validation
from jaxthresh.core.validation import Rows
from tests.conftest import padded_problem, random_problem
from tests.methods import reference

MAX_ROWS = 24
CLASSES = 3


@jax.jit
def _both_kernels(scores, labels, weights, thresholds):
    rows = Rows(scores, labels, weights)
    return (
        counting.cpu_counts(counting.masked_scores(rows), thresholds),
        counting.generic_counts(rows, thresholds),
    )


_generic_counts = jax.jit(
    lambda scores, labels, weights, thresholds: counting.generic_counts(
        Rows(scores, labels, weights), thresholds
    )
)


_greater = jax.jit(jnp.greater)


def _expected(scores, labels, weights, thresholds):
    # scores > thresholds as XLA compares: on CPU a subnormal threshold (the float just
    # below 0.0) is 0.0, and the kernels agree with that comparison, not with NumPy's.
    counts = jaxthresh.confusion_counts(labels, _greater(scores, thresholds), weights)
    return counts.true_positives, counts.predicted_positives


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, MAX_ROWS), st.booleans())
def test_kernels_equal_confusion_counts(seed, rows, ties):
    """Ties, thresholds equal to scores, rows left out: every kernel counts scores > t."""
    scores, labels, kept, _ = padded_problem(seed, rows, CLASSES, max_rows=MAX_ROWS, ties=ties)
    rng = np.random.default_rng(seed)
    in_fit = kept & (rng.random(MAX_ROWS) < 0.8)
    multiplicities = (rng.integers(0, 4, MAX_ROWS) * kept).astype(np.int32)
    fractions = (rng.random(MAX_ROWS) * kept).astype(np.float32)
    # Thresholds equal to scores (kept or left out), just below them, and beyond them all.
    candidates = np.concatenate(
        [scores.ravel(), np.nextafter(scores.ravel(), -np.inf), [-1.0, 2.0]]
    ).astype(np.float32)
    for _ in range(4):
        thresholds = rng.choice(candidates, CLASSES)
        cpu, generic = _both_kernels(scores, labels, in_fit, thresholds)
        expected = _expected(scores, labels, in_fit, thresholds)
        for got in (cpu, generic):
            for a, b in zip(got, expected, strict=True):
                assert a.dtype == jnp.int32
                np.testing.assert_array_equal(a, b)
        for weights in (multiplicities, fractions):
            got = _generic_counts(scores, labels, weights, thresholds)
            for a, b in zip(got, _expected(scores, labels, weights, thresholds), strict=True):
                assert a.dtype == b.dtype
                np.testing.assert_array_equal(a, b)


def test_a_score_equal_to_its_threshold_is_not_counted():
    scores = np.array([[0.5, 0.25], [0.5, 0.75], [0.25, 0.25]], np.float32)
    labels = np.array([[1, 1], [0, 1], [1, 0]], bool)
    weights = np.ones(3, bool)
    thresholds = np.array([0.5, 0.25], np.float32)
    cpu, generic = _both_kernels(scores, labels, weights, thresholds)
    for true_positives, predicted in (cpu, generic):
        np.testing.assert_array_equal(true_positives, [0, 1])
        np.testing.assert_array_equal(predicted, [0, 1])


def test_masked_scores_leave_rows_out():
    scores, labels = random_problem(1, rows=8, classes=2)
    weights = np.arange(8) % 3 > 0
    masked = counting.masked_scores(Rows(scores, labels, weights))
    np.testing.assert_array_equal(masked.scores[~weights], -np.inf)
    np.testing.assert_array_equal(masked.scores[weights], scores[weights])
    np.testing.assert_array_equal(
        masked.positive_scores, np.where(labels & weights[:, None], scores, -np.inf)
    )
    assert masked.positives.dtype == jnp.int32
    np.testing.assert_array_equal(masked.positives, (labels & weights[:, None]).sum(0))
    with pytest.raises(TypeError, match="needs bool row weights"):
        counting.masked_scores(Rows(scores, labels, weights.astype(np.int32)))


@pytest.mark.parametrize("variant", ["cpu", "generic"])
def test_positions_are_the_true_entries_in_row_major_order(variant):
    mask = np.random.default_rng(2).random((9, 4)) < 0.2
    found = int(mask.sum())
    rows, columns = jax.jit(counting.positions, static_argnums=(1, 2))(mask, found + 3, variant)
    expected_rows, expected_columns = np.nonzero(mask)
    np.testing.assert_array_equal(rows[:found], expected_rows)
    np.testing.assert_array_equal(columns[:found], expected_columns)
    np.testing.assert_array_equal(rows[found:], 9)  # past the last row: gathers fill in
    np.testing.assert_array_equal(columns[found:], 0)


def test_listed_positive_entries_count_and_sum_as_the_matrix():
    """With a small bound on the kept positive entries they are gathered into a list
    (scatter-added by class); the counts and sums are those of the masked matrix."""
    scores, labels = random_problem(3, rows=128, classes=4)
    labels = labels & (np.random.default_rng(3).random(labels.shape) < 0.08)
    weights = np.arange(128) % 5 > 0
    bound = int((labels & weights[:, None]).sum())
    assert 8 * bound <= labels.size
    rows = Rows(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(weights))
    listed, matrix = counting.masked_scores(rows, bound), counting.masked_scores(rows)
    assert listed.positive_classes is not None and matrix.positive_classes is None
    assert listed.positive_scores.shape == (bound,)
    thresholds = jnp.asarray([0.3, 0.5, 0.4, 0.6], jnp.float32)
    slopes = jnp.asarray([10.0, 50.0, 20.0, 5.0], jnp.float32)
    for counts in zip(
        counting.cpu_counts(listed, thresholds),
        counting.cpu_counts(matrix, thresholds),
        strict=True,
    ):
        np.testing.assert_array_equal(*counts)
    functions = [
        lambda s, t, a: jnp.exp(-jnp.abs(a * (s - t))),
        lambda s, t, a: counting.step(s - t),
    ]
    for sums in zip(
        counting.positive_sums(listed, functions, thresholds, slopes),
        counting.positive_sums(matrix, functions, thresholds, slopes),
        strict=True,
    ):
        np.testing.assert_allclose(*sums, rtol=1e-6)
    # Concrete rows carry the bound (as_rows), so the kernels list them: on CPU the
    # positions come from NumPy.
    concrete = validation.as_rows(scores, labels, weights)
    assert (
        counting.masked_scores(concrete, concrete.pooled_positive_slots).positive_classes
        is not None
    )
    jaxpr = jax.make_jaxpr(lambda r: counting.masked_scores(r, r.pooled_positive_slots))(concrete)
    assert "pure_callback" in str(jaxpr)


def test_step_is_the_comparison_with_zero():
    tiny = np.finfo(np.float32).tiny
    x = np.array([-np.inf, -1e30, -1.0, -tiny, -0.0, 0.0, tiny, 1e-30, 1.0, 3e38, np.inf])
    x = x.astype(np.float32)
    step = np.asarray(jax.jit(counting.step)(x))
    assert step.dtype == np.float32
    np.testing.assert_array_equal(step, (x > 0).astype(np.float32))


AVERAGES = ("micro", "macro", "weighted")


@functools.partial(jax.jit, static_argnames=("variant",))
def _every_average(rows, thresholds, *, variant):
    return [
        counting.score_of_thresholds(rows, thresholds, objectives.fbeta(2.0), average, variant)
        for average in AVERAGES
    ]


@pytest.mark.parametrize(
    "variant, weights_dtype",
    [
        ("cpu", bool),
        ("generic", bool),
        (None, bool),
        (None, np.int32),  # int and float weights always take the generic kernel
        (None, np.float32),
    ],
)
def test_score_of_thresholds_equals_f1_score(variant, weights_dtype):
    scores, labels, kept, _ = padded_problem(9, 50, CLASSES, max_rows=64, ties=True)
    rng = np.random.default_rng(9)
    thresholds = np.concatenate(
        [
            rng.choice(scores[kept].ravel(), (6, CLASSES)),  # equal to scores
            rng.uniform(0, 1, (3, CLASSES)),
            np.full((1, CLASSES), 2.0),  # predicts nothing
        ]
    ).astype(np.float32)
    weights = {
        bool: kept & (rng.random(64) < 0.8),
        np.int32: (rng.integers(0, 4, 64) * kept).astype(np.int32),
        np.float32: (rng.random(64) * kept).astype(np.float32),
    }[weights_dtype]
    rows = Rows(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(weights))
    scored = _every_average(rows, thresholds, variant=variant)
    for average, got in zip(AVERAGES, scored, strict=True):
        assert got.shape == (len(thresholds),)
        for value, t in zip(np.asarray(got), thresholds, strict=True):
            expected = reference.objective_of_predictions(
                labels, scores > t, objectives.fbeta(2.0), average, weights
            )
            assert value == pytest.approx(float(expected), abs=1e-6)
            if average != "weighted":
                expected = jaxthresh.f1_score(
                    labels, scores > t, average=average, beta=2.0, sample_weight=weights
                )
                assert value == pytest.approx(expected, abs=1e-6)


def _lowered(variant, platform=None):
    rows = Rows(jnp.ones((16, 2)), jnp.ones((16, 2), bool), jnp.ones(16, bool))
    thresholds = jnp.zeros((4, 2))

    def score(rows, thresholds):
        return counting.score_of_thresholds(
            rows, thresholds, objectives.get("f1"), "micro", variant=variant
        )

    traced = jax.jit(score).trace(rows, thresholds)
    platforms = None if platform is None else (platform,)
    return traced.lower(lowering_platforms=platforms).as_text()


def _is_cpu_kernel(text):
    """The cpu kernel: a loop over candidates (one_at_a_time), its step's 2**126 scale,
    and no comparison of scores with thresholds (the generic kernel's ``>``)."""
    cpu = "stablehlo.while" in text and "8.50705917E+37" in text
    generic = re.search(r"stablehlo\.compare\s+GT", text) is not None
    assert cpu != generic, "expected exactly one of the kernels in the program"
    return cpu


def test_the_cpu_variant_is_the_program_that_runs_on_cpu():
    assert _is_cpu_kernel(_lowered("cpu"))
    assert not _is_cpu_kernel(_lowered("generic"))
    # variant=None: both kernels are traced (platform_dependent), only one is lowered.
    rows = Rows(jnp.ones((16, 2)), jnp.ones((16, 2), bool), jnp.ones(16, bool))
    jaxpr = str(
        jax.make_jaxpr(
            lambda r, t: counting.score_of_thresholds(r, t, objectives.get("f1"), "micro")
        )(rows, jnp.zeros((4, 2)))
    )
    assert "platform_index" in jaxpr and "branches_platforms=(('cpu',), None)" in jaxpr
    assert _is_cpu_kernel(_lowered(None, "cpu"))
    assert not _is_cpu_kernel(_lowered(None, "cuda"))
    assert _is_cpu_kernel(_lowered(None)) == (jax.default_backend() == "cpu")


def test_non_bool_weights_always_take_the_generic_kernel():
    rows = Rows(jnp.ones((16, 2)), jnp.ones((16, 2), bool), jnp.ones(16, jnp.int32))
    text = (
        jax.jit(
            lambda r, t: counting.score_of_thresholds(
                r, t, objectives.get("f1"), "micro", variant="cpu"
            )
        )
        .lower(rows, jnp.zeros((4, 2)))
        .as_text()
    )
    assert not _is_cpu_kernel(text)
