import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import jaxthresh
from jaxthresh.core.surrogate import heaviside, sigmoid_derivative_factor

# XLA on CPU flushes subnormal floats to zero, so they are excluded (see heaviside docs).
floats = st.floats(-3, 3, allow_nan=False, allow_subnormal=False, width=32)
_jitted_heaviside = jax.jit(heaviside)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float32, st.integers(1, 20), elements=floats), st.floats(0.1, 200))
def test_forward_is_the_exact_step(x, slope):
    # Repeated up to one shape: one compilation serves every example.
    x = np.resize(x, 20)
    expected = (x > 0).astype(np.float32)
    np.testing.assert_array_equal(jaxthresh.heaviside(x, slope), expected)
    np.testing.assert_array_equal(_jitted_heaviside(x, np.float32(slope)), expected)


def test_public_heaviside_is_the_core_one():
    assert jaxthresh.heaviside is heaviside


def test_gradient_matches_the_formula():
    x = jnp.linspace(-0.5, 0.5, 11)
    slope = jnp.full_like(x, 7.0)
    grad_x, grad_slope = jax.grad(
        lambda x, a: jnp.sum(jnp.arange(11.0) * jaxthresh.heaviside(x, a)), argnums=(0, 1)
    )(x, slope)
    sig_pos, sig_neg = jax.nn.sigmoid(slope * x), jax.nn.sigmoid(-slope * x)
    weights = jnp.arange(11.0)
    np.testing.assert_allclose(grad_x, weights * slope * sig_pos * sig_neg, rtol=1e-6)
    np.testing.assert_allclose(grad_slope, weights * x * sig_pos * sig_neg, rtol=1e-6, atol=1e-9)


def test_gradient_matches_a_finite_difference_of_the_sigmoid_relaxation():
    x = np.array([-0.3, -0.05, 0.0, 0.02, 0.4])
    slope = 12.0
    h = 1e-6

    def relaxed(x, a):
        return 1 / (1 + np.exp(-a * x))

    grad_x, grad_slope = jax.vmap(jax.grad(jaxthresh.heaviside, argnums=(0, 1)), (0, None))(
        jnp.asarray(x, jnp.float32), jnp.float32(slope)
    )
    fd_x = (relaxed(x + h, slope) - relaxed(x - h, slope)) / (2 * h)
    fd_slope = (relaxed(x, slope + h) - relaxed(x, slope - h)) / (2 * h)
    np.testing.assert_allclose(grad_x, fd_x, rtol=1e-4)
    np.testing.assert_allclose(grad_slope, fd_slope, rtol=1e-4, atol=1e-7)


def test_broadcast_slope_gets_the_summed_gradient():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(6, 3)), jnp.float32)
    slopes = jnp.array([1.0, 5.0, 20.0])
    grad_broadcast = jax.grad(lambda a: jnp.sum(jaxthresh.heaviside(x, a)))(slopes)
    grad_full = jax.grad(lambda a: jnp.sum(jaxthresh.heaviside(x, a)))(
        jnp.broadcast_to(slopes, x.shape)
    )
    assert grad_broadcast.shape == (3,)
    np.testing.assert_allclose(grad_broadcast, grad_full.sum(axis=0), rtol=1e-6)


def test_zero_is_negative_and_jit_agrees():
    x = jnp.array([-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(jax.jit(jaxthresh.heaviside)(x, 3.0), [0.0, 0.0, 1.0])


def test_integer_input_becomes_float32():
    out = jaxthresh.heaviside(jnp.array([-2, 0, 3]), 1.0)
    assert out.dtype == jnp.float32
    np.testing.assert_array_equal(out, [0.0, 0.0, 1.0])


def test_sigmoid_derivative_factor_is_the_product_without_overflow():
    x = jnp.array([-2.0, -0.1, 0.0, 0.3, 1.5], jnp.float32)
    slope = jnp.float32(4.0)
    expected = jax.nn.sigmoid(slope * x) * jax.nn.sigmoid(-slope * x)
    np.testing.assert_allclose(sigmoid_derivative_factor(x, slope), expected, rtol=1e-6)
    assert float(sigmoid_derivative_factor(jnp.float32(0.0), slope)) == 0.25
    # Where exp(|slope * x|) overflows, the factor is 0, never NaN; -inf (a row left out)
    # gives exactly 0.
    extreme = sigmoid_derivative_factor(jnp.array([-1e30, 1e30, -jnp.inf]), jnp.float32(1e10))
    np.testing.assert_array_equal(extreme, [0.0, 0.0, 0.0])
