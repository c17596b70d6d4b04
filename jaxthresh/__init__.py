"""jaxthresh: per-class decision thresholds that maximize the F1 of a multi-label classifier."""

from jaxthresh.auto import CANDIDATES, AutoResult, auto_fit_weighted, fit_auto
from jaxthresh.crossval import (
    CVResult,
    SweepResult,
    cross_validate,
    fold_ids,
    fold_weights,
    sweep,
)
from jaxthresh.dicho import DichoResult, dicho_fit_weighted, fit_dicho
from jaxthresh.exact import ExactResult, exact_fit_histogram, exact_fit_weighted, fit_exact
from jaxthresh.histogram import Histogram, score_histogram
from jaxthresh.methods import METHODS, Method, fit, get_method
from jaxthresh.metrics import (
    Counts,
    confusion_counts,
    f1_score,
    fbeta_from_counts,
    surrogate_fbeta,
    thresholded_fbeta,
    weighted_counts,
)
from jaxthresh.numerical import (
    NumericalResult,
    fit_numerical,
    numerical_fit_histogram,
    numerical_fit_weighted,
)
from jaxthresh.sgl import SGLResult, fit_sgl, sgl_fit_histogram, sgl_fit_weighted
from jaxthresh.sharding import ShardedRows, row_mesh, shard_rows
from jaxthresh.streaming import NpyChunks, fit_histogram, histogram_of_chunks, histogram_pass
from jaxthresh.surrogate import heaviside
from jaxthresh.thresholding import (
    DefaultResult,
    apply_thresholds,
    best_global_threshold,
    fit_default,
)

__version__ = "0.1.0"

__all__ = [
    "CANDIDATES",
    "METHODS",
    "AutoResult",
    "CVResult",
    "Counts",
    "DefaultResult",
    "DichoResult",
    "ExactResult",
    "Histogram",
    "Method",
    "NpyChunks",
    "NumericalResult",
    "SGLResult",
    "ShardedRows",
    "SweepResult",
    "apply_thresholds",
    "auto_fit_weighted",
    "best_global_threshold",
    "confusion_counts",
    "cross_validate",
    "dicho_fit_weighted",
    "exact_fit_histogram",
    "exact_fit_weighted",
    "f1_score",
    "fbeta_from_counts",
    "fit",
    "fit_auto",
    "fit_default",
    "fit_dicho",
    "fit_exact",
    "fit_histogram",
    "fit_numerical",
    "fit_sgl",
    "fold_ids",
    "fold_weights",
    "get_method",
    "heaviside",
    "histogram_of_chunks",
    "histogram_pass",
    "numerical_fit_histogram",
    "numerical_fit_weighted",
    "row_mesh",
    "score_histogram",
    "sgl_fit_histogram",
    "sgl_fit_weighted",
    "shard_rows",
    "surrogate_fbeta",
    "sweep",
    "thresholded_fbeta",
    "weighted_counts",
]
