import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxthresh
from jaxthresh.core import thresholds as thresholds_module
from jaxthresh.core.thresholds import apply_thresholds
from tests.conftest import candidate_thresholds, random_problem

SCORES = np.array([[0.2, 0.5, -1.0], [0.5, 0.7, 3.0], [0.9, 0.1, 0.0]], np.float32)


def test_public_apply_thresholds_is_the_core_one():
    assert jaxthresh.apply_thresholds is apply_thresholds


def test_strictly_greater_with_per_class_thresholds():
    predictions = apply_thresholds(SCORES, [0.2, 0.6, 0.0])
    assert predictions.dtype == jnp.bool_
    np.testing.assert_array_equal(
        predictions, [[False, False, False], [True, True, True], [True, False, False]]
    )


def test_scalar_threshold_is_shared():
    np.testing.assert_array_equal(apply_thresholds(SCORES, 0.5), SCORES > 0.5)
    np.testing.assert_array_equal(apply_thresholds(SCORES, np.float64(0.5)), SCORES > 0.5)
    np.testing.assert_array_equal(apply_thresholds(SCORES, 1), SCORES > 1)  # an int too


def test_inputs_of_every_kind():
    thresholds = np.array([0.3, 0.3, 0.3])
    expected = SCORES > 0.3
    for scores in (SCORES, SCORES.astype(np.float64), jnp.asarray(SCORES), SCORES.tolist()):
        np.testing.assert_array_equal(apply_thresholds(scores, thresholds), expected)
    np.testing.assert_array_equal(apply_thresholds(SCORES, jnp.asarray(thresholds)), expected)
    integers = np.array([[0, 1], [2, 3]])
    np.testing.assert_array_equal(apply_thresholds(integers, 1), integers > 1)


def test_inside_jit_and_vmap():
    thresholds = np.array([[0.0, 0.0, 0.0], [0.5, 0.6, 0.0], [1.0, 1.0, 1.0]], np.float32)
    batched = jax.jit(jax.vmap(apply_thresholds, in_axes=(None, 0)))(SCORES, thresholds)
    for t, got in zip(thresholds, batched, strict=True):
        np.testing.assert_array_equal(got, SCORES > t)


def test_fitted_thresholds_reproduce_the_fit_score():
    scores, labels = random_problem(0, rows=6, classes=3)
    fit = jaxthresh.fit("default", scores, labels)
    predictions = apply_thresholds(scores, fit.thresholds)
    assert jaxthresh.f1_score(labels, predictions) == pytest.approx(
        jaxthresh.f1_score(labels, scores > np.asarray(fit.threshold))
    )
    best = max(jaxthresh.f1_score(labels, scores > t) for t in candidate_thresholds(scores))
    assert jaxthresh.f1_score(labels, predictions) == pytest.approx(best)


@pytest.mark.parametrize(
    "scores, thresholds, message",
    [
        (np.array([[0.1, np.nan, 0.3]]), 0.5, r"scores: 1 value.* NaN or infinite"),
        (np.array([[0.1, np.inf]]), 0.5, "scores: .*NaN or infinite"),
        (SCORES[0], 0.5, "scores: expected a 2-D array"),
        (np.zeros((0, 3)), 0.5, "scores: is empty"),
        (SCORES + 1j, 0.5, "scores: expected real numbers"),
        (SCORES, [0.5, 0.5], r"thresholds: expected a scalar or one value per class \(3\)"),
        (SCORES, np.full((3, 3), 0.5), "thresholds: expected a scalar or one value per class"),
        (SCORES, np.nan, "thresholds: must be finite"),
        (SCORES, 1e39, "thresholds: must be finite as float32"),
        (SCORES, True, "thresholds: expected a real number"),
        (SCORES, "0.5", "thresholds: expected a real number"),
        (SCORES, 0.5 + 1j, "thresholds: expected a real number"),
    ],
)
def test_checks(scores, thresholds, message):
    with pytest.raises(ValueError, match=message):
        apply_thresholds(scores, thresholds)


# Decoding rules: at least min_labels, at most max_labels positives per row.

RULES = [(1, None), (0, 1), (1, 2), (2, 2), (3, None), (0, 6), (6, None)]


def decoded_reference(scores, thresholds, min_labels=0, max_labels=None):
    """Row by row in Python: rank classes by (predicted first, margin descending, index
    ascending), margins in the comparison's dtype; take as many as the rules want."""
    scores, thresholds = np.asarray(scores), np.asarray(thresholds)
    predicted = scores > thresholds
    margins = scores - thresholds
    maximum = predicted.shape[1] if max_labels is None else max_labels
    decoded = predicted.copy()
    for row, (hit, margin) in enumerate(zip(predicted, margins, strict=True)):
        wanted = min(max(int(hit.sum()), min_labels), maximum)
        if wanted != hit.sum():
            ranked = sorted(range(len(hit)), key=lambda c: (not hit[c], -margin[c], c))
            decoded[row] = np.isin(np.arange(len(hit)), ranked[:wanted])
    return decoded


def grid_problem(seed, rows=20, classes=6):
    """Scores and thresholds on a grid of eighths: exact margins in any float dtype, and
    many ties of score, of threshold and of margin."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 9, (rows, classes)).astype(np.float32) / 8
    thresholds = rng.integers(1, 8, classes).astype(np.float32) / 8
    return scores, thresholds


@pytest.mark.parametrize("min_labels, max_labels", RULES)
def test_rules_decode_as_the_reference_on_numpy_and_jax(min_labels, max_labels):
    scores, thresholds = grid_problem(0)
    rules = {"min_labels": min_labels, "max_labels": max_labels}
    expected = decoded_reference(scores, thresholds, **rules)
    on_numpy = apply_thresholds(scores, thresholds, **rules)
    on_jax = apply_thresholds(jnp.asarray(scores), thresholds, **rules)
    assert isinstance(on_numpy, np.ndarray) and on_numpy.dtype == np.bool_
    assert isinstance(on_jax, jax.Array) and on_jax.dtype == jnp.bool_
    np.testing.assert_array_equal(on_numpy, expected)
    np.testing.assert_array_equal(on_jax, expected)


@pytest.fixture
def top_k_only(monkeypatch):
    """JAX selects with ``lax.top_k`` however many classes it takes (caches cleared:
    traced again)."""
    monkeypatch.setattr(thresholds_module, "ARGMAX_PASSES", 0)
    jax.clear_caches()
    yield
    jax.clear_caches()


@pytest.mark.parametrize("min_labels, max_labels", [(1, None), (1, 3), (2, 4), (3, None)])
def test_top_k_selects_as_the_argmax_passes(top_k_only, min_labels, max_labels):
    scores, thresholds = grid_problem(4)
    thresholds = thresholds + np.float32(0.375)
    scores[::2] += np.float32(0.75)  # rows with fewer labels than min_labels, more than 4
    counts = (scores > thresholds).sum(1)
    assert (counts < min_labels).any() and (counts > 4).any()
    rules = {"min_labels": min_labels, "max_labels": max_labels}
    expected = decoded_reference(scores, thresholds, **rules)
    np.testing.assert_array_equal(
        apply_thresholds(jnp.asarray(scores), thresholds, **rules), expected
    )


def test_rules_inside_jit_and_vmap_equal_plain():
    scores, thresholds = grid_problem(1)
    batch = np.stack([thresholds, thresholds / 2, np.full_like(thresholds, 0.9)])
    rules = {"min_labels": 1, "max_labels": 2}

    def decode(s, t):
        return apply_thresholds(s, t, **rules)

    plain = apply_thresholds(jnp.asarray(scores), thresholds, **rules)
    np.testing.assert_array_equal(jax.jit(decode)(scores, thresholds), plain)
    np.testing.assert_array_equal(jax.jit(decode)(jnp.asarray(scores), thresholds), plain)
    batched = jax.jit(jax.vmap(decode, in_axes=(None, 0)))(scores, batch)
    for t, got in zip(batch, batched, strict=True):
        np.testing.assert_array_equal(got, apply_thresholds(scores, t, **rules))
    by_rows = jax.vmap(decode, in_axes=(0, None))(jnp.stack([scores, scores[::-1]]), thresholds)
    np.testing.assert_array_equal(by_rows[1], plain[::-1])


@settings(max_examples=30, deadline=None)
@given(
    st.integers(0, 10_000),
    st.integers(0, 6),
    st.one_of(st.none(), st.integers(1, 7)),
    st.booleans(),
)
def test_rules_bound_each_row_and_change_only_the_right_classes(
    seed, min_labels, max_labels, on_jax
):
    if max_labels is not None:
        max_labels = max(max_labels, min_labels, 1)
    scores, thresholds = grid_problem(seed)
    predicted = scores > thresholds
    margins = scores - thresholds
    given_scores = jnp.asarray(scores) if on_jax else scores
    decoded = np.asarray(
        apply_thresholds(given_scores, thresholds, min_labels=min_labels, max_labels=max_labels)
    )
    counts, before = decoded.sum(1), predicted.sum(1)
    assert (counts >= min_labels).all()
    if max_labels is not None:
        assert (counts <= max_labels).all()
    upper = np.inf if max_labels is None else max_labels
    untouched = (before >= min_labels) & (before <= upper)
    np.testing.assert_array_equal(decoded[untouched], predicted[untouched])
    for row in np.flatnonzero(before < min_labels):  # only unpredicted classes added...
        added = decoded[row] & ~predicted[row]
        left = ~decoded[row]
        assert (decoded[row] >= predicted[row]).all()
        if added.any() and left.any():  # ... those of largest margin, low index on ties
            lowest = margins[row][added].min()
            assert margins[row][left].max() <= lowest
            ties = margins[row] == lowest
            if (ties & left).any():
                assert np.flatnonzero(ties & added).max() < np.flatnonzero(ties & left).min()
    for row in np.flatnonzero(before > upper):  # only predicted classes dropped...
        kept, dropped = decoded[row], predicted[row] & ~decoded[row]
        assert (kept <= predicted[row]).all()
        lowest = margins[row][kept].min()
        assert margins[row][dropped].max() <= lowest
        ties = margins[row] == lowest
        if (ties & dropped).any():
            assert np.flatnonzero(ties & kept).max() < np.flatnonzero(ties & dropped).min()
    expected = decoded_reference(scores, thresholds, min_labels, max_labels)
    np.testing.assert_array_equal(decoded, expected)


def test_defaults_and_rules_that_change_nothing_are_the_comparison():
    scores, thresholds = grid_problem(2)
    for given_scores in (scores, scores.astype(np.float64), jnp.asarray(scores)):
        plain = apply_thresholds(given_scores, thresholds)
        for rules in ({"min_labels": 0, "max_labels": None}, {"max_labels": 6}, {"max_labels": 9}):
            got = apply_thresholds(given_scores, thresholds, **rules)
            assert type(got) is type(plain)
            np.testing.assert_array_equal(got, plain)
        np.testing.assert_array_equal(plain, scores > thresholds)


def test_float64_numpy_margins_stay_float64():
    """Margins that float32 would tie (so the lower index would win) are ranked in
    float64, the comparison's dtype: the larger float64 margin wins."""
    scores = np.array([[0.3, 0.3 + 1e-12, 0.1], [0.7, 0.7 + 1e-12, 0.7 + 2e-12]])
    assert np.float32(scores[0, 0]) == np.float32(scores[0, 1])
    expected = np.array([[False, True, False], [False, True, True]])
    got = apply_thresholds(scores, 0.5, min_labels=1, max_labels=2)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, expected)
    # float32 scores against float64 thresholds: margins in float64 too.
    single = np.array([[0.25, 0.25, 0.0]], np.float32)
    thresholds = np.array([0.5, 0.5 - 1e-12, 0.9])
    np.testing.assert_array_equal(
        apply_thresholds(single, thresholds, min_labels=1), [[False, True, False]]
    )


def test_predicted_classes_rank_first_whatever_the_margin_rounds_to():
    """A subnormal margin (XLA flushes it to 0, as the margins of unpredicted classes at
    their thresholds) still ranks its predicted class first."""
    tiny = np.float32(1e-44)
    scores = np.array([[0.0, 0.0, tiny], [tiny, tiny, 0.0]], np.float32)
    for given_scores in (scores, jnp.asarray(scores)):
        np.testing.assert_array_equal(
            apply_thresholds(given_scores, 0.0, min_labels=2),
            [[True, False, True], [True, True, False]],
        )
        np.testing.assert_array_equal(
            apply_thresholds(given_scores, 0.0, max_labels=1),
            [[False, False, True], [True, False, False]],
        )
    integers = np.array([[2**62, 2**62, 2**62 + 1]], np.int64)  # margins 0 as float64
    np.testing.assert_array_equal(
        apply_thresholds(integers, np.int64(2**62), min_labels=2), [[True, False, True]]
    )


@pytest.mark.parametrize(
    "rules, message",
    [
        ({"min_labels": 4}, "min_labels: 4 labels per row are more than the 3 classes"),
        ({"min_labels": -1}, "min_labels: must be >= 0"),
        ({"min_labels": True}, "min_labels: expected a whole number >= 0, got True"),
        ({"min_labels": 1.0}, "min_labels: expected a whole number >= 0, got 1.0"),
        ({"min_labels": None}, "min_labels: expected a whole number"),
        ({"max_labels": 0}, "max_labels: must be >= 1"),
        ({"max_labels": 2.0}, "max_labels: expected a whole number >= 1, got 2.0"),
        ({"max_labels": False}, "max_labels: expected a whole number >= 1, got False"),
        ({"min_labels": 2, "max_labels": 1}, r"max_labels: 1 is less than min_labels \(2\)"),
    ],
)
def test_bad_rules_name_themselves(rules, message):
    for scores in (SCORES, jnp.asarray(SCORES)):
        with pytest.raises(ValueError, match=message):
            apply_thresholds(scores, 0.5, **rules)
