"""The threshold-fitting methods, each declared once (:mod:`jaxthresh.methods.base`), and
the entry points derived from the declarations: :func:`fit`, ``fit_<name>`` and
:func:`fit_histogram`.

============================  ============================================================
module                        method
============================  ============================================================
``global_threshold``          ``default``: defThresh, one threshold for every class
``dicho``                     ``dicho``: dichoThresh, grid then shrinking random search
``numerical``                 ``numerical``: numThresh, finite-difference gradients, Adam
``sgl``, ``sgl_kernels``      ``sgl``: SGLThresh, surrogate gradients, Adam
``exact``                     ``exact``: the global optimum of the objective on the data
``auto``                      ``auto``: the candidate that cross-validates best
``constrained``               ``constrained``: the best objective among the thresholds
                              that meet a minimum precision or recall, exactly
============================  ============================================================

Every method maximizes an ``objective`` (:mod:`jaxthresh.objectives`) averaged over classes
as its ``average`` says.
"""

from __future__ import annotations

from jaxthresh.core import batching, diagnostics, frames, validation
from jaxthresh.core import progress as progress_reports
from jaxthresh.core.histogram import Histogram, checked_histogram
from jaxthresh.methods import (  # noqa: F401
    auto,
    constrained,
    dicho,
    exact,
    global_threshold,
    numerical,
    sgl,
)
from jaxthresh.methods.base import METHODS, Method, docstring, get_method, signature

__all__ = ["METHODS", "Method", "fit", "fit_histogram", "get_method", "public_fit"]

# The modules are imported to register their methods; the registry lists them in the
# paper's order, then ours.
for _name in ("default", "dicho", "numerical", "sgl", "exact", "auto", "constrained"):
    METHODS[_name] = METHODS.pop(_name)


@batching.jit(static_argnames=("progress",))
def _fit_rows(config: Method, rows: validation.Rows, progress: bool):
    with progress_reports.reporting(progress):
        return config.fit(rows)


@batching.jit(static_argnames=("progress",))
def _fit_histogram(config: Method, histogram: Histogram, progress: bool):
    with progress_reports.reporting(progress):
        return config.fit_on_histogram(histogram)


def configure(method: str, n_classes: int, n_rows: int | None = None, **hyperparameters):
    """The checked configuration of ``method`` for a problem of ``n_classes`` classes (and
    ``n_rows`` fitting rows, where known)."""
    config = get_method(method).create(n_classes, **hyperparameters)
    if n_rows is not None:
        config.check_rows(n_rows)
    return config


def fit(
    method: str, scores, labels, sample_weight=None, *, progress: bool = False, **hyperparameters
):
    """Fits the registered ``method`` on the rows given: ``fit("sgl", s, y, init=0.3)`` is
    ``fit_sgl(s, y, init=0.3)``. Works inside ``jit`` and ``vmap``.

    Args:
      method: a name in :data:`METHODS`.
      scores: real ``[n, classes]``, NumPy or JAX.
      labels: 0/1 or bool ``[n, classes]``.
      sample_weight: None, or non-negative weights of rows ``[n]`` or labels
        ``[n, classes]`` (see ``fit_sgl``).
      progress: log the progress of long loops through absl logging.
      **hyperparameters: the method's keyword arguments.

    Returns:
      The method's result NamedTuple; every one has ``thresholds: float32[classes]``.
      On concrete inputs, a :class:`jaxthresh.core.diagnostics.FitWarning` names the
      classes where the fit cannot work as asked (no positives, init outside the scores,
      steps coarser than the scores' range, float64 values float32 cannot tell apart...).
    """
    rows = validation.as_rows(scores, labels, sample_weight)
    config = configure(method, rows.scores.shape[1], rows.scores.shape[0], **hyperparameters)
    result = _fit_rows(config, rows, bool(progress))
    if not validation.is_traced(rows, config):
        if frames.column_names(scores) is not None:  # a DataFrame's float64 values
            scores = scores.to_numpy()
        merged = diagnostics.merged_classes(scores, labels)
        summary = diagnostics.class_summary(rows)._replace(merged=merged[0])
        for message in [
            *diagnostics.float64_warnings(scores, result.thresholds, merged=merged),
            *diagnostics.label_warnings(summary),
            *config.diagnose(result, summary, rows),
        ]:
            diagnostics.warn(message)
    return result


def public_fit(method: str):
    """``fit_<method>``: :func:`fit` with the method's own signature and docstring."""
    declared = get_method(method)

    def fit_method(scores, labels, sample_weight=None, *, progress=False, **hyperparameters):
        return fit(method, scores, labels, sample_weight, progress=progress, **hyperparameters)

    fit_method.__name__ = fit_method.__qualname__ = f"fit_{method}"
    fit_method.__doc__ = docstring(declared)
    fit_method.__signature__ = signature(declared)
    fit_method.__module__ = "jaxthresh"
    return fit_method


def fit_histogram(method: str, histogram: Histogram, *, progress: bool = False, **hyperparameters):
    """Fits thresholds on a :class:`jaxthresh.Histogram` (from
    :func:`jaxthresh.histogram_pass`), at cell resolution.

    Args:
      method: a method with a histogram path: "sgl", "exact", "numerical" or
        "constrained".
      histogram: the per-class cell counts.
      progress: log the progress of long loops.
      **hyperparameters: the method's, as for ``fit_<method>`` (but not ``bins``: the
        cells are fixed).

    Returns:
      The method's result; its scores (``score``, ``history``) are at cell resolution.
    """
    declared = get_method(method)
    if not declared.has_histogram_path():
        with_path = [name for name, m in METHODS.items() if m.has_histogram_path()]
        raise ValueError(
            f"method: {method!r} has no histogram path; use one of {', '.join(with_path)}"
        )
    histogram = checked_histogram(histogram)
    if "bins" in hyperparameters:
        raise ValueError("bins: not a hyperparameter of a histogram fit (its cells are fixed)")
    config = configure(method, histogram.counts.shape[0], **hyperparameters)
    result = _fit_histogram(config, histogram, bool(progress))
    if not validation.is_traced(histogram, config):
        summary = diagnostics.histogram_summary(histogram)
        for message in [
            *diagnostics.label_warnings(summary),
            *config.diagnose(result, summary, None),
        ]:
            diagnostics.warn(message)
    return result
