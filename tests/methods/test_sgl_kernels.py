import functools
import re

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh import objectives
from jaxthresh.core import batching, counting
from jaxthresh.core.histogram import cell_centres, cell_edges, score_histogram
from jaxthresh.core.metrics import Counts, fbeta_from_counts, weighted_counts
from jaxthresh.core.surrogate import heaviside
from jaxthresh.core.validation import Rows
from jaxthresh.methods import sgl, sgl_kernels
from tests.conftest import random_problem, slow_except

#: (kernel variant, kind of row weights) pairs a kernel is built for: the cpu kernel takes
#: rows in or out only ("listed": few positive labels, with a bound on them that lets the
#: kernel gather them into a list); the generic one any weights.
KERNELS = [
    ("cpu", "bool"),
    ("cpu", "listed"),
    ("generic", "bool"),
    ("generic", "int"),
    ("generic", "float"),
]


def _weights(kind, kept, seed):
    """Row weights of ``kind`` that are 0 where ``kept`` is False."""
    if kind in ("bool", "listed"):
        return kept
    multiplicities = kept * np.random.default_rng(seed).integers(1, 4, kept.shape)
    if kind == "int":
        return multiplicities.astype(np.int32)
    return (multiplicities * 0.75).astype(np.float32)


def _inputs(seed, rows=70, classes=4, ties=True, kind="bool"):
    scores, labels = random_problem(seed, rows=rows, classes=classes, ties=ties)
    rng = np.random.default_rng(seed)
    kept = rng.random(rows) < 0.8
    if kind == "listed":  # a positive label in about one score of twenty
        labels = labels & (rng.random(labels.shape) < 0.15)
        labels[np.argmax(kept)] = True  # a kept positive row in every class
    return scores, labels, _weights(kind, kept, seed)


def _rows(scores, labels, weights):
    """Rows; where at most an eighth of the scores are kept positives, with that bound
    (so the cpu kernel lists them)."""
    listed = int(np.sum(labels & np.asarray(weights, bool)[:, None]))
    bound = listed if 8 * listed <= labels.size else None
    return Rows(
        jnp.asarray(scores), jnp.asarray(labels, bool), jnp.asarray(weights), total_positives=bound
    )


@functools.partial(jax.jit, static_argnames="variant")
def _kernel_counts(rows, thresholds, variant):
    kernel = sgl_kernels.rows_kernel(rows, learn_slope=True, variant=variant)
    return kernel.counts_at(thresholds), kernel.positives


# The kernels count exactly where float32 arithmetic near the threshold is exact: away
# from the band of |x| < 2**-100 around zero where XLA on CPU flushes subnormal results
# (SGLThresh warns when its thresholds end there: test_thresholds_near_zero_are_warned).
EXACT_THRESHOLDS = st.floats(-0.25, 1.25, width=32).filter(lambda t: t == 0 or abs(t) > 2**-100)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), threshold=EXACT_THRESHOLDS)
def test_counts_are_the_exact_counts(seed, threshold):
    for variant, kind in KERNELS:
        scores, labels, weights = _inputs(seed, kind=kind)
        thresholds = np.full(scores.shape[1], threshold, np.float32)
        thresholds[0] = scores[3, 0]  # a threshold equal to a score: that score is negative
        (true_positives, predicted), positives = _kernel_counts(
            _rows(scores, labels, weights), thresholds, variant
        )
        expected = jaxthresh.confusion_counts(labels, scores > thresholds, weights)
        np.testing.assert_array_equal(true_positives, expected.true_positives)
        np.testing.assert_array_equal(predicted, expected.predicted_positives)
        np.testing.assert_array_equal(positives, expected.positives)
        count_dtype = jnp.float32 if kind == "float" else jnp.int32
        assert true_positives.dtype == predicted.dtype == count_dtype, (variant, kind)


@pytest.mark.parametrize("kind", ["bool", "int"])
def test_histogram_counts_are_the_cells_above_the_threshold(kind):
    scores, labels, weights = _inputs(3, rows=200, classes=4, ties=False, kind=kind)
    histogram = score_histogram(_rows(scores, labels, weights), bins=16)
    centres = np.asarray(cell_centres(histogram))
    counts, cell_positives = np.asarray(histogram.counts), np.asarray(histogram.positives)
    kernel = sgl_kernels.histogram_kernel(histogram, learn_slope=True, variant="generic")
    counts_at = jax.jit(kernel.counts_at)
    rng = np.random.default_rng(3)
    for _ in range(5):
        # Any threshold: the cells whose centre is above it.
        thresholds = rng.uniform(-0.1, 1.1, 4).astype(np.float32)
        thresholds[1] = centres[1, 5]  # on a centre: that cell is not above
        true_positives, predicted = counts_at(thresholds)
        above = centres > thresholds[:, None]
        np.testing.assert_array_equal(true_positives, (cell_positives * above).sum(axis=1))
        np.testing.assert_array_equal(predicted, (counts * above).sum(axis=1))
        # A threshold on an inner cell edge: exactly the rows above it (edge 0 is the
        # lowest score, which cell 0 holds; the top edge is the highest).
        cells = rng.integers(1, 16, 4)
        edges = np.asarray(cell_edges(histogram.low, histogram.width, cells.astype(np.float32)))
        true_positives, predicted = counts_at(edges)
        expected = jaxthresh.confusion_counts(labels, scores > edges, weights)
        np.testing.assert_array_equal(true_positives, expected.true_positives)
        np.testing.assert_array_equal(predicted, expected.predicted_positives)
    np.testing.assert_array_equal(kernel.positives, cell_positives.sum(axis=1))


def _count_weights(positives, average, beta):
    """``(dF/dTP, dF/dPP)`` at given counts."""

    def fbeta(true_positives, predicted):
        return fbeta_from_counts(
            Counts(true_positives, predicted, positives, 0 * positives), average=average, beta=beta
        )

    return jax.grad(fbeta, argnums=(0, 1))


BETA = 0.7


@functools.partial(jax.jit, static_argnames=("variant", "average", "learn_slope"))
def _kernel_gradient(rows, thresholds, slopes, variant, average, learn_slope):
    kernel = sgl_kernels.rows_kernel(rows, learn_slope=learn_slope, variant=variant)
    counts = [c.astype(jnp.float32) for c in kernel.counts_at(thresholds)]
    weights = _count_weights(kernel.positives, average, BETA)(*counts)
    got = kernel.gradient_at(thresholds, slopes, *weights)
    objective = sgl.kernel_objective(kernel, objectives.fbeta(BETA), average)
    return got, objective[1]((thresholds, slopes))


@functools.partial(jax.jit, static_argnames="average")
def _autodiff(scores, labels, weights, thresholds, slopes, average):
    def objective(thresholds, slopes):
        return jaxthresh.surrogate_fbeta(
            scores, labels, thresholds, slopes, average=average, beta=BETA, sample_weight=weights
        )

    return objective(thresholds, slopes), jax.grad(objective, argnums=(0, 1))(thresholds, slopes)


def _check_gradient(got, expected, learn_slope):
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-7)
    if learn_slope:
        np.testing.assert_allclose(got[1], expected[1], rtol=1e-4, atol=1e-8)
    else:
        np.testing.assert_array_equal(got[1], 0.0)


# The cpu kernel on rows in or out; the generic one on multiplicities (its bool weights
# become 0/1 multiplicities first, so they take the same code).
@pytest.mark.parametrize("variant, kind", [("cpu", "bool"), ("cpu", "listed"), ("generic", "int")])
@pytest.mark.parametrize("average", slow_except(["micro", "macro"], ["micro"]))
@pytest.mark.parametrize("learn_slope", [True, False])
def test_gradient_is_the_autodiff_gradient(variant, kind, average, learn_slope):
    scores, labels, weights = _inputs(5, rows=120, classes=5, kind=kind)
    thresholds = np.linspace(0.2, 0.6, 5).astype(np.float32)
    slopes = np.linspace(5.0, 60.0, 5).astype(np.float32)
    value, expected = _autodiff(scores, labels, weights, thresholds, slopes, average)
    assert np.all(np.abs(expected[0]) > 0) and np.all(np.abs(expected[1]) > 0)
    got, (objective_value, objective_grad) = _kernel_gradient(
        _rows(scores, labels, weights), thresholds, slopes, variant, average, learn_slope
    )
    _check_gradient(got, expected, learn_slope)
    # What an SGLThresh epoch uses: the exact value and the same gradient.
    assert float(objective_value) == pytest.approx(float(value), abs=1e-6)
    _check_gradient(objective_grad, expected, learn_slope)


@functools.partial(jax.jit, static_argnames=("variant", "average", "learn_slope"))
def _histogram_gradients(histogram, thresholds, slopes, variant, average, learn_slope):
    """``(kernel gradient, autodiff gradient with every cell's rows at its centre)``."""

    def objective(thresholds, slopes):
        values = cell_centres(histogram).T
        predictions = heaviside(values - thresholds, slopes)
        counts = weighted_counts(
            predictions,
            histogram.positives.T.astype(jnp.float32),
            histogram.counts.T.astype(jnp.float32),
        )
        return fbeta_from_counts(counts, average=average, beta=BETA)

    expected = jax.grad(objective, argnums=(0, 1))(thresholds, slopes)
    kernel = sgl_kernels.histogram_kernel(histogram, learn_slope=learn_slope, variant=variant)
    counts = [c.astype(jnp.float32) for c in kernel.counts_at(thresholds)]
    weights = _count_weights(kernel.positives, average, BETA)(*counts)
    return kernel.gradient_at(thresholds, slopes, *weights), expected


@pytest.mark.parametrize("variant", ["cpu", "generic"])
@pytest.mark.parametrize("average", ["micro", "macro"])
@pytest.mark.parametrize("learn_slope", [True, False])
def test_histogram_gradient_is_the_autodiff_gradient_on_the_cells(variant, average, learn_slope):
    scores, labels, weights = _inputs(6, rows=150, classes=5, kind="int")
    histogram = score_histogram(_rows(scores, labels, weights), bins=32)
    thresholds = np.linspace(0.2, 0.6, 5).astype(np.float32)
    slopes = np.linspace(5.0, 60.0, 5).astype(np.float32)
    got, expected = _histogram_gradients(
        histogram, thresholds, slopes, variant, average, learn_slope
    )
    assert np.all(np.abs(expected[0]) > 0) and np.all(np.abs(expected[1]) > 0)
    _check_gradient(got, expected, learn_slope)


# The fits below share one shape and these settings, so that compiled fits are reused.
ROWS, CLASSES = 120, 4
FIT = dict(init=0.4, epochs=40)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_kernels_fit_the_autodiff_thresholds(average):
    scores, labels, weights = _inputs(7, rows=ROWS, classes=CLASSES, ties=False)
    fits = {
        kernel: jaxthresh.fit_sgl(scores, labels, weights, kernel=kernel, average=average, **FIT)
        for kernel in ("cpu", "generic", "autodiff")
    }
    reference = fits["autodiff"]
    assert np.abs(reference.thresholds - FIT["init"]).max() > 0.05  # the fit moved
    for kernel in ("cpu", "generic"):
        np.testing.assert_allclose(fits[kernel].thresholds, reference.thresholds, atol=1e-5)
        np.testing.assert_allclose(fits[kernel].slopes, reference.slopes, rtol=1e-4)
        np.testing.assert_allclose(fits[kernel].history, reference.history, atol=1e-6)


def test_histogram_fits_agree_across_kernels():
    scores, labels, weights = _inputs(8, rows=ROWS, classes=CLASSES, ties=False)
    fits = [
        jaxthresh.fit_sgl(scores, labels, weights, kernel=kernel, bins=64, **FIT)
        for kernel in ("cpu", "generic")
    ]
    np.testing.assert_allclose(fits[0].thresholds, fits[1].thresholds, atol=1e-5)
    np.testing.assert_allclose(fits[0].slopes, fits[1].slopes, rtol=1e-4)
    np.testing.assert_allclose(fits[0].history, fits[1].history, atol=1e-6)


def test_one_at_a_time_matches_batched_semantics_in_nested_vmaps():
    calls = batching.one_at_a_time(lambda x, y: jnp.sum(x * y, axis=0))
    x = np.arange(2 * 3 * 5 * 4, dtype=np.float32).reshape(2, 3, 5, 4)
    y = np.linspace(0, 1, 20, dtype=np.float32).reshape(5, 4)
    got = jax.jit(jax.vmap(jax.vmap(calls, in_axes=(0, None)), in_axes=(0, None)))(x, y)
    np.testing.assert_allclose(got, np.sum(x * y, axis=2), rtol=1e-6)


def test_one_at_a_time_handles_pytree_arguments():
    calls = batching.one_at_a_time(lambda pair, z: jnp.sum(pair[0] * pair[1], axis=0) + z)
    x = np.arange(3 * 5 * 2, dtype=np.float32).reshape(3, 5, 2)
    y = np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2)
    z = np.float32(2.0)
    got = jax.vmap(calls, in_axes=((0, None), None))((x, y), z)
    np.testing.assert_allclose(got, np.sum(x * y, axis=1) + z, rtol=1e-6)


# "cpu": int weights take the generic kernel, the repeated rows (no weights) the cpu one.
@pytest.mark.parametrize("kernel", ["cpu", "autodiff"])
def test_rows_counted_several_times_give_the_fit_of_repeated_rows(kernel):
    scores, labels, _ = _inputs(9, rows=ROWS, classes=CLASSES, ties=False)
    # Multiplicities 0, 1 and 2 summing to ROWS: the repeated rows have the shape of the
    # fits above (which compiled them already).
    weights = np.random.default_rng(9).permutation(np.repeat(np.arange(3, dtype=np.int32), 40))
    weighted = jaxthresh.fit_sgl(scores, labels, weights, kernel=kernel, **FIT)
    repeated = np.repeat(np.arange(ROWS), weights)
    expected = jaxthresh.fit_sgl(scores[repeated], labels[repeated], kernel=kernel, **FIT)
    np.testing.assert_allclose(weighted.thresholds, expected.thresholds, atol=1e-5)
    np.testing.assert_allclose(weighted.slopes, expected.slopes, rtol=1e-4)
    np.testing.assert_allclose(weighted.history, expected.history, atol=1e-6)


# The cpu kernel's mark: the max-only step multiplies by 2**126 (counting.step).
STEP_SCALE = re.compile(r"8\.50705917e\+37", re.IGNORECASE)


def _lowered(scores, labels, weights, platform, **hyperparameters):
    """The StableHLO text of ``fit_sgl`` lowered for ``platform`` (no device needed)."""

    def fit(scores, labels, weights):
        return jaxthresh.fit_sgl(scores, labels, weights, init=0.4, epochs=5, **hyperparameters)

    traced = jax.jit(fit).trace(scores, labels, weights)
    return traced.lower(lowering_platforms=(platform,)).as_text()


def test_the_cpu_kernel_is_what_runs_on_cpu():
    assert float(np.float32(counting.step(jnp.float32(1e-30)))) == 1.0  # the mark is the step's
    assert STEP_SCALE.search(f"{2.0**126:.8e}")
    scores, labels = random_problem(10, rows=40, classes=3)
    kept = np.arange(40) % 4 != 0
    counted = kept.astype(np.int32)
    uses_cpu_kernel = {
        ("cpu", "bool", None): True,
        ("cpu", "none", None): True,  # no weights: every row in
        ("cpu", "bool", "cpu"): True,
        ("cpu", "bool", "generic"): False,
        ("cpu", "bool", "autodiff"): False,
        ("cpu", "int", None): False,
        ("cpu", "int", "cpu"): False,  # int weights always take the generic kernel
        ("cpu", "float", None): False,
        ("cuda", "bool", None): False,  # an accelerator gets the generic kernel
        ("cuda", "bool", "cpu"): True,
    }
    weights = {"bool": kept, "none": None, "int": counted, "float": counted.astype(np.float32)}
    for (platform, kind, kernel), expected in uses_cpu_kernel.items():
        if kind == "none":
            text = _lowered(scores, labels, None, platform, kernel=kernel)  # weights: a constant
        else:
            text = _lowered(scores, labels, weights[kind], platform, kernel=kernel)
        assert bool(STEP_SCALE.search(text)) == expected, (platform, kind, kernel)


def _equations(jaxpr):
    """Every equation of a jaxpr, those of nested jaxprs (loop bodies, branches) included."""
    for equation in jaxpr.eqns:
        yield equation
        for value in equation.params.values():
            for inner in value if isinstance(value, tuple | list) else [value]:
                if isinstance(inner, jax.extend.core.ClosedJaxpr):
                    yield from _equations(inner.jaxpr)
                elif isinstance(inner, jax.extend.core.Jaxpr):
                    yield from _equations(inner)


def test_folds_run_one_after_the_other_through_the_cpu_kernel():
    scores, labels = random_problem(11, rows=40, classes=3)
    masks = np.stack([np.arange(40) % 3 != fold for fold in range(3)])

    def fold_loops(weights, kernel):
        """The loops over the 3 folds whose body calls the cpu kernel's custom_vmap."""

        def fit(weights):
            return jaxthresh.fit_sgl(scores, labels, weights, init=0.4, epochs=5, kernel=kernel)

        jaxpr = jax.make_jaxpr(jax.vmap(fit))(weights).jaxpr
        return [
            equation
            for equation in _equations(jaxpr)
            if equation.primitive.name == "scan"
            and equation.params["length"] == 3
            and any(
                inner.primitive.name == "custom_vmap_call"
                for inner in _equations(equation.params["jaxpr"].jaxpr)
            )
        ]

    assert len(fold_loops(masks, None)) == 1
    assert len(fold_loops(masks, "cpu")) == 1
    assert fold_loops(masks, "generic") == []
    assert fold_loops(masks.astype(np.int32), None) == []
