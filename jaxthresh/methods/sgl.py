"""SGLThresh: per-class thresholds learned by surrogate-gradient ascent on the objective.

Pellegrini & Masquelier (ICASSP 2021). The forward pass uses the exact step
``1[score > threshold]``; the backward pass the derivative of a sigmoid of slope ``a``
(:func:`jaxthresh.heaviside`). Adam (optax), full batch, every epoch inside one
``lax.scan``. Each epoch's counts and gradient come from a kernel of
:mod:`jaxthresh.methods.sgl_kernels`, chosen per backend (``kernel=None``) or by name;
``kernel="autodiff"`` differentiates through :func:`jaxthresh.heaviside` instead, the
reference the kernels are tested against.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import PartitionSpec

from jaxthresh import objectives
from jaxthresh.core import batching, diagnostics
from jaxthresh.core import progress as progress_reports
from jaxthresh.core.histogram import Histogram
from jaxthresh.core.metrics import Counts, element_weights, objective_score, weighted_counts
from jaxthresh.core.progress import report
from jaxthresh.core.surrogate import heaviside
from jaxthresh.core.validation import Rows
from jaxthresh.methods import sgl_kernels
from jaxthresh.methods.base import (
    Iterative,
    Method,
    average_field,
    bins_field,
    hyperparameter,
    objective_field,
    register,
)
from jaxthresh.methods.global_threshold import StartsAtGlobalThreshold


class SGLResult(NamedTuple):
    """Result of :func:`jaxthresh.fit_sgl`.

    Attributes:
      thresholds: float32[classes], the learned thresholds.
      slopes: float32[classes], the surrogate slopes (learned if ``learn_slope``).
      history: float32[epochs], the F-beta of ``scores > thresholds`` on the fitting data
        after every epoch (``history[-1]`` is the final thresholds' score). On the
        histogram path (``bins``), at cell resolution: each cell's rows count as at its
        centre, so ``history[-1]`` can differ slightly from the thresholds' exact score.
    """

    thresholds: jax.Array
    slopes: jax.Array
    history: jax.Array


def adam_ascent(value, value_and_grad, init, slope, learning_rate, *, epochs: int) -> SGLResult:
    """SGLThresh's loop: ``epochs`` full-batch Adam steps up F-beta, in one ``lax.scan``.

    Args:
      value: ``(thresholds, slopes) -> F-beta``.
      value_and_grad: ``(thresholds, slopes) -> (F-beta, (d/d thresholds, d/d slopes))``.
      init: float32[classes], initial thresholds.
      slope: float32[classes], initial slopes.
      learning_rate: Adam's step size.
      epochs: number of steps (static).
    """
    optimizer = optax.adam(learning_rate)
    params = (init, slope)

    def epoch(carry, step):
        params, state = carry
        score, grads = value_and_grad(params)  # the score of the previous epoch's thresholds
        grads = jax.tree.map(jnp.negative, grads)  # ascent on F-beta
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        report("sgl", step + 1, epochs, score)
        return (params, state), score

    (params, _), scores_before = jax.lax.scan(
        epoch, (params, optimizer.init(params)), jnp.arange(epochs)
    )
    history = jnp.concatenate([scores_before[1:], value(params)[None]])
    return SGLResult(params[0], params[1], history)


def kernel_objective(kernel: sgl_kernels.Kernel, objective: objectives.Objective, average: str):
    """``(value, value_and_grad)`` of the objective in ``(thresholds, slopes)`` from a
    kernel (built with or without the slopes' gradient): exact counts, then the gradient
    from two weighted sums."""

    def fbeta(true_positives, predicted_positives):
        counts = Counts.of(true_positives, predicted_positives, kernel.positives, kernel.total)
        return objective_score(counts, objective, average)

    def value(params):
        return fbeta(*kernel.counts_at(params[0]))

    def value_and_grad(params):
        thresholds, slopes = params
        counts = kernel.counts_at(thresholds)
        as_float = [count.astype(jnp.float32) for count in counts]
        tp_weight, pp_weight = jax.grad(fbeta, argnums=(0, 1))(*as_float)
        return fbeta(*counts), kernel.gradient_at(thresholds, slopes, tp_weight, pp_weight)

    return value, value_and_grad


def autodiff_objective(
    rows: Rows, objective: objectives.Objective, average: str, *, learn_slope: bool
):
    """``(value, value_and_grad)`` of the objective: exact counts for the value, autodiff
    through :func:`jaxthresh.heaviside` for the gradient (the reference)."""
    positive_weights, weights = element_weights(rows.labels, rows.weights)

    def score(thresholds, slopes):
        if slopes is None:
            predictions = rows.scores > thresholds
        else:
            predictions = heaviside(rows.scores - thresholds, slopes)
        counts = weighted_counts(predictions, positive_weights, weights)
        return objective_score(counts, objective, average)

    def surrogate(params):
        thresholds, slopes = params
        if not learn_slope:
            slopes = jax.lax.stop_gradient(slopes)
        return score(thresholds, slopes)

    def value(params):
        return score(params[0], None)

    return value, lambda params: (value(params), jax.grad(surrogate)(params))


@register
@dataclasses.dataclass(frozen=True, eq=False)
class SGL(StartsAtGlobalThreshold, Iterative, Method):
    """SGLThresh: learns one threshold per class that maximizes the objective (Pellegrini &
    Masquelier, ICASSP 2021, for F1; any objective of the counts): the exact step forward,
    the derivative of a sigmoid of slope ``a`` backward, Adam, full batch."""

    name = "sgl"
    result_type = SGLResult

    init: jax.Array | None = hyperparameter(
        "per_class",
        None,
        help="Initial thresholds, one number or one per class; None for the best single "
        "threshold (found exactly).",
    )
    slope: jax.Array = hyperparameter(
        "positive_per_class", 50.0, help="Initial slope a of the surrogate, one or one per class."
    )
    learning_rate: jax.Array = hyperparameter("positive", 1e-2, help="Adam's step size.")
    epochs: int = hyperparameter("count", 100, help="Full-batch Adam steps.")
    learn_slope: bool = hyperparameter(
        "flag", True, help="Learn the slope per class alongside the thresholds."
    )
    objective: objectives.Objective = objective_field()
    average: str = average_field()
    bins: int | None = bins_field()
    kernel: str | None = hyperparameter(
        "choice",
        None,
        choices=(*batching.VARIANTS, "autodiff"),
        tool=False,
        help="Epoch kernel: None for the one made for the backend, 'cpu', 'generic' or "
        "'autodiff' (the reference); the thresholds are the same up to float32 rounding.",
    )

    def slopes(self, result: SGLResult) -> jax.Array:
        return result.slopes

    def diagnose(self, result: SGLResult, summary, rows: Rows) -> list[str]:
        return [
            *diagnostics.coarse_step_warnings(
                summary, self.learning_rate, "learning_rate", self.name
            ),
            *diagnostics.start_warnings(summary, self.init, result.thresholds, self.name, rows),
            *diagnostics.near_zero_warnings(summary, result.thresholds, self.name),
        ]

    def _ascent(self, objective) -> SGLResult:
        value, value_and_grad = objective
        init = jnp.asarray(self.init, jnp.float32)
        return adam_ascent(
            value, value_and_grad, init, self.slope, self.learning_rate, epochs=self.epochs
        )

    def _objective(self, kernel):
        return kernel_objective(kernel, self.objective, self.average)

    def _rows_fit(self, rows: Rows, variant: str) -> SGLResult:
        if batching.sharded_rows() is not None and not batching.rows_are_local():
            return self._sharded_rows_fit(rows, variant)
        kernel = sgl_kernels.rows_kernel(rows, learn_slope=self.learn_slope, variant=variant)
        return self._ascent(self._objective(kernel))

    def _sharded_rows_fit(self, rows: Rows, variant: str) -> SGLResult:
        """Rows split over devices: every device runs the whole ascent on its own rows
        (``shard_map``), each epoch's per-class sums added across the devices
        (:func:`sgl_kernels.summed_over_devices`), so that every device takes the same
        steps; the kernel's temporaries are those of one device's rows, and only
        ``[classes]`` vectors cross between devices."""
        rows_spec = PartitionSpec(batching.ROWS, None)

        def own_rows(config, scores, labels, weights):
            own = rows._replace(scores=scores, labels=labels, weights=weights)
            kernel = sgl_kernels.rows_kernel(own, learn_slope=self.learn_slope, variant=variant)
            with progress_reports.reporting(False):  # no host callback on sharded rows
                return config._ascent(config._objective(sgl_kernels.summed_over_devices(kernel)))

        weights_spec = PartitionSpec(batching.ROWS, *(None,) * (rows.weights.ndim - 1))
        return jax.shard_map(
            own_rows,
            in_specs=(PartitionSpec(), rows_spec, rows_spec, weights_spec),
            out_specs=PartitionSpec(),
            check_vma=False,
        )(self, rows.scores, rows.labels, rows.weights)

    def fit_rows(self, rows: Rows) -> SGLResult:
        if self.kernel == "autodiff":
            objective = autodiff_objective(
                rows, self.objective, self.average, learn_slope=self.learn_slope
            )
            return self._ascent(objective)
        if rows.weights.dtype != jnp.bool_:  # the cpu kernel takes rows in or out only
            return self._rows_fit(rows, "generic")
        fit = batching.by_platform(
            self.kernel,
            cpu=batching.one_at_a_time(lambda config, rows: config._rows_fit(rows, "cpu")),
            generic=lambda config, rows: config._rows_fit(rows, "generic"),
            sharded=False,  # by platform: each device fits its own rows (_sharded_rows_fit)
        )
        return fit(self, rows)

    def _histogram_fit(self, histogram: Histogram, variant: str) -> SGLResult:
        kernel = sgl_kernels.histogram_kernel(
            histogram, learn_slope=self.learn_slope, variant=variant
        )
        return self._ascent(self._objective(kernel))

    def fit_histogram(self, histogram: Histogram) -> SGLResult:
        variant = None if self.kernel == "autodiff" else self.kernel
        fit = batching.by_platform(
            variant,
            cpu=batching.one_at_a_time(lambda config, h: config._histogram_fit(h, "cpu")),
            generic=lambda config, h: config._histogram_fit(h, "generic"),
        )
        return fit(self, histogram)
