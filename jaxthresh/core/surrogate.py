"""The surrogate-gradient step function at the heart of SGLThresh.

Forward: the exact step ``1[x > 0]``. Backward: the derivative of the sigmoid relaxation
``sig(slope * x)``, i.e. ``slope * sig(slope*x) * sig(-slope*x)`` with respect to ``x`` and
``x * sig(slope*x) * sig(-slope*x)`` with respect to ``slope`` (so the slope can be learned).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sigmoid_derivative_factor(x: jax.Array, slope: jax.Array) -> jax.Array:
    """``sig(slope*x) * sig(-slope*x)``, the common factor of both partial derivatives.

    Written ``e / (1 + e)**2`` with ``e = exp(-|slope*x|)``: one exponential and no
    overflow for any ``x`` (``x = -inf`` gives 0)."""
    e = jnp.exp(-jnp.abs(slope * x))
    return e / ((1 + e) * (1 + e))


@jax.custom_vjp
def _heaviside(x: jax.Array, slope: jax.Array) -> jax.Array:
    return (x > 0).astype(x.dtype)


def _heaviside_fwd(x, slope):
    return _heaviside(x, slope), (x, slope)


def _heaviside_bwd(residuals, cotangent):
    x, slope = residuals
    factor = cotangent * sigmoid_derivative_factor(x, slope)
    return slope * factor, x * factor


_heaviside.defvjp(_heaviside_fwd, _heaviside_bwd)


def heaviside(x: jax.Array, slope: jax.Array | float) -> jax.Array:
    """Exact step ``1[x > 0]`` with the sigmoid surrogate gradient of slope ``slope``.

    Args:
      x: float[...], typically ``scores - thresholds``.
      slope: float, broadcastable to ``x`` (a scalar or one slope per class, for example).
        Its gradient is summed back to its own shape.

    Returns:
      float[...] of ``x``'s shape and dtype, 0.0 or 1.0. ``x == 0`` gives 0: a score equal
      to its threshold is predicted negative.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    slope = jnp.broadcast_to(jnp.asarray(slope, x.dtype), x.shape)
    return _heaviside(x, slope)
