"""jaxthresh: per-class decision thresholds that maximize the F1 (or any objective of the
confusion counts) of a multi-label classifier.

Layers, each importing only those above it in this list:

* :mod:`jaxthresh.objectives`: objectives of the confusion counts, as values;
* :mod:`jaxthresh.core`: the surrogate step, exact counts and scores, cuts of sorted scores,
  histograms, folds, batching per backend, progress, input checks;
* :mod:`jaxthresh.methods`: every method declared once, and the fits derived from it;
* :mod:`jaxthresh.selection`: cross-validation and sweeps; :mod:`jaxthresh.resampling`:
  the bootstrap; :mod:`jaxthresh.streaming`:
  histograms of data larger than memory; :mod:`jaxthresh.sharding`: rows over devices;
* :mod:`jaxthresh.cli`: the ``jaxthresh`` tool, its files, reports and plots.
"""

from jaxthresh import objectives
from jaxthresh.core.curves import threshold_curves
from jaxthresh.core.histogram import Histogram, merge_histograms
from jaxthresh.core.metrics import (
    Counts,
    confusion_counts,
    f1_score,
    fbeta_from_counts,
    score_predictions,
    surrogate_fbeta,
)
from jaxthresh.core.ranking import average_precision, roc_auc
from jaxthresh.core.surrogate import heaviside
from jaxthresh.core.thresholds import apply_thresholds
from jaxthresh.methods import METHODS, fit, fit_histogram, public_fit
from jaxthresh.methods.auto import CANDIDATES, AutoResult
from jaxthresh.methods.dicho import DichoResult
from jaxthresh.methods.exact import ExactResult
from jaxthresh.methods.global_threshold import DefaultResult
from jaxthresh.methods.numerical import NumericalResult
from jaxthresh.methods.sgl import SGLResult
from jaxthresh.resampling import BootstrapResult, bootstrap
from jaxthresh.selection import CVResult, SweepResult, cross_validate, sweep
from jaxthresh.sharding import shard_rows
from jaxthresh.streaming import histogram_of_chunks, histogram_pass

__version__ = "0.2.0"

fit_default = public_fit("default")
fit_dicho = public_fit("dicho")
fit_numerical = public_fit("numerical")
fit_sgl = public_fit("sgl")
fit_exact = public_fit("exact")
fit_auto = public_fit("auto")
fit_constrained = public_fit("constrained")

__all__ = [
    "CANDIDATES",
    "METHODS",
    "AutoResult",
    "BootstrapResult",
    "CVResult",
    "Counts",
    "DefaultResult",
    "DichoResult",
    "ExactResult",
    "Histogram",
    "NumericalResult",
    "SGLResult",
    "SweepResult",
    "apply_thresholds",
    "average_precision",
    "bootstrap",
    "confusion_counts",
    "cross_validate",
    "f1_score",
    "fbeta_from_counts",
    "fit",
    "fit_auto",
    "fit_constrained",
    "fit_default",
    "fit_dicho",
    "fit_exact",
    "fit_histogram",
    "fit_numerical",
    "fit_sgl",
    "heaviside",
    "histogram_of_chunks",
    "histogram_pass",
    "merge_histograms",
    "objectives",
    "roc_auc",
    "score_predictions",
    "shard_rows",
    "surrogate_fbeta",
    "sweep",
    "threshold_curves",
]
