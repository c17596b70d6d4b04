import functools

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxthresh.core import reductions


def test_column_sum_is_exact_on_the_block_path():
    rng = np.random.default_rng(0)
    values = (rng.random((1000, 3)) < 0.5).astype(np.float32)
    expected = values.sum(0).astype(np.int64)
    for block_rows in (64, 100, 500, 10_000):  # blocks, padded blocks, one sum
        got = jax.jit(functools.partial(reductions.column_sum, block_rows=block_rows))(values)
        assert got.dtype == jnp.int32
        np.testing.assert_array_equal(got, expected)


def test_column_sum_counts_past_2_to_the_24():
    rows = 2**24 + 3  # a float32 sum stops counting at 2**24
    assert float(np.float32(rows)) != rows
    got = jax.jit(reductions.column_sum)(jnp.ones((rows, 1), jnp.float32))
    assert int(got[0]) == rows


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 70), st.integers(1, 4), st.sampled_from([8, 1 << 23]))
def test_count_true_counts_each_column(seed, rows, columns, block_rows):
    mask = np.random.default_rng(seed).random((rows, columns)) < 0.3
    count = jax.jit(reductions.count_true, static_argnums=1)
    got = count(mask, block_rows)
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(got, mask.sum(axis=0))
    # Through uint8, never a bool-to-float conversion inside the reduction.
    jaxpr = str(jax.make_jaxpr(reductions.count_true)(mask))
    assert "new_dtype=uint8" in jaxpr


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 4), st.integers(0, 1))
def test_argmax_first_is_argmax(seed, rows, columns, axis):
    rng = np.random.default_rng(seed)
    # Few distinct values, so that maxima tie; some -inf, some columns all -inf.
    values = rng.choice(np.array([-np.inf, -1.0, 0.0, 0.5, 2.0], np.float32), (rows, columns))
    values[:, 0] = -np.inf
    got = jax.jit(reductions.argmax_first, static_argnums=1)(values, axis)
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(got, np.argmax(values, axis=axis))
    # Two float max reductions, no value-and-index reduction.
    jaxpr = str(jax.make_jaxpr(reductions.argmax_first, static_argnums=1)(values, axis))
    assert "argmax" not in jaxpr and jaxpr.count("reduce_max") == 2
