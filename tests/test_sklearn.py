"""jaxthresh.sklearn: the threshold-tuning meta-estimators, against scikit-learn's own
cross-validation and jaxthresh's fits on the same scores, scikit-learn's estimator checks,
and the README's scikit-learn example."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import pickle
import re
import subprocess
import sys
import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, jaccard_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_predict
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import estimator_checks_generator

import jaxthresh
from jaxthresh import objectives
from jaxthresh.cli import thresholds_file
from jaxthresh.core.diagnostics import FitWarning
from jaxthresh.methods import METHODS, base
from jaxthresh.sklearn import FixedThresholdClassifier, ThresholdClassifierCV
from tests.conftest import PROJECT_ROOT
from tests.test_readme import _section


def _data(rows=120, classes=3, seed=0):
    X, Y = make_multilabel_classification(
        n_samples=rows, n_features=6, n_classes=classes, random_state=seed
    )
    return X, Y


def _logistic():
    return OneVsRestClassifier(LogisticRegression(solver="liblinear"))


def _out_of_fold(estimator, X, Y, folds=3, seed=0):
    """scikit-learn's own out-of-fold probabilities ``[n, classes]`` on the folds an int
    ``cv`` of ThresholdClassifierCV deals."""
    splitter = KFold(folds, shuffle=True, random_state=seed)
    raw = cross_val_predict(estimator, X, Y, cv=splitter, method="predict_proba")
    return np.stack([p[:, 1] for p in raw], axis=1) if isinstance(raw, list) else raw


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "estimator",
    [
        _logistic(),
        # one [n, 2] array per class
        pytest.param(KNeighborsClassifier(5), marks=pytest.mark.slow),
        pytest.param(MLPClassifier((8,), max_iter=30, random_state=0), marks=pytest.mark.slow),
    ],
    ids=["one-vs-rest", "k-neighbors", "mlp"],
)
def test_thresholds_are_the_method_fit_on_out_of_fold_scores(estimator):
    X, Y = _data()
    model = ThresholdClassifierCV(estimator, method="exact", cv=3, random_state=0).fit(X, Y)
    scores = _out_of_fold(estimator, X, Y)
    expected = jaxthresh.fit_exact(scores, Y)
    np.testing.assert_array_equal(model.thresholds_, expected.thresholds)
    assert model.best_score_ == pytest.approx(float(expected.score), abs=1e-6)
    # Refitted on every row; predict is the classifier's scores against the thresholds.
    refitted = clone(estimator).fit(X, Y)
    np.testing.assert_array_equal(model.predict_proba(X), _scores_of(refitted, X))
    predictions = model.predict(X)
    assert predictions.dtype == np.int64 and predictions.shape == Y.shape
    np.testing.assert_array_equal(predictions, model.predict_proba(X) > model.thresholds_)
    np.testing.assert_array_equal(model.classes_, np.arange(3))
    assert model.n_features_in_ == 6 and model.response_method_ == "predict_proba"
    assert model.score(X, Y) == pytest.approx(f1_score(Y, predictions, average="micro"))


def _scores_of(estimator, X):
    raw = estimator.predict_proba(X)
    return np.stack([p[:, 1] for p in raw], axis=1) if isinstance(raw, list) else raw


def test_cv_results_are_each_fold_held_out_from_the_threshold_fit():
    X, Y = _data()
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    f2 = objectives.fbeta(2.0)
    model = ThresholdClassifierCV(_logistic(), method="exact", objective=f2, cv=folds).fit(X, Y)
    scores = _out_of_fold(_logistic(), X, Y)
    results = model.cv_results_
    assert results["thresholds"].shape == (3, 3)
    for fold, (train, test) in enumerate(folds):
        in_train = np.isin(np.arange(len(Y)), train)  # masks: one shape, one compilation
        fitted = jaxthresh.fit_exact(scores, Y, in_train, objective=f2).thresholds
        np.testing.assert_array_equal(results["thresholds"][fold], fitted)
        predictions = jaxthresh.apply_thresholds(scores, fitted)
        for rows, key in ((in_train, "train_score"), (~in_train, "test_score")):
            expected = jaxthresh.score_predictions(Y, predictions, objective=f2, sample_weight=rows)
            assert results[key][fold] == pytest.approx(expected, abs=1e-12)
            # F2 as jaxthresh.f1_score counts it (its ratio in float64; objectives in float32).
            fbeta = jaxthresh.f1_score(Y, predictions, beta=2.0, sample_weight=rows)
            assert results[key][fold] == pytest.approx(fbeta, rel=1e-6)
        assert results["n_test"][fold] == len(test)
    # The same folds from a splitter object.
    again = ThresholdClassifierCV(
        _logistic(), method="exact", objective=f2, cv=KFold(3, shuffle=True, random_state=0)
    )
    np.testing.assert_array_equal(again.fit(X, Y).thresholds_, model.thresholds_)


def _micro_jaccard(labels, predictions):
    """TP / (TP + FP + FN) of the counts pooled over classes, by hand."""
    labels, predictions = np.asarray(labels, bool), np.asarray(predictions, bool)
    tp = np.count_nonzero(labels & predictions)
    union = np.count_nonzero(labels | predictions)
    return tp / union if union else 1.0


def test_the_objective_is_fitted_and_reported():
    X, Y = _data()
    model = ThresholdClassifierCV(
        _logistic(), method="exact", objective="jaccard", cv=3, random_state=0
    ).fit(X, Y)
    scores = _out_of_fold(_logistic(), X, Y)
    predictions = scores > model.thresholds_
    assert model.best_score_ == pytest.approx(_micro_jaccard(Y, predictions), abs=1e-6)
    # The thresholds maximize Jaccard, not F1: F1's thresholds score no higher.
    f1_thresholds = jaxthresh.fit_exact(scores, Y).thresholds
    assert _micro_jaccard(Y, scores > f1_thresholds) <= model.best_score_ + 1e-6
    # score is the same Jaccard of predict, as scikit-learn counts it.
    assert model.score(X, Y) == pytest.approx(
        jaccard_score(Y, model.predict(X), average="micro"), abs=1e-6
    )
    for fold in range(3):
        assert 0 <= model.cv_results_["test_score"][fold] <= 1


def test_grid_search_over_the_objective():
    X, Y = _data()
    folds = list(KFold(2, shuffle=True, random_state=1).split(X))
    model = ThresholdClassifierCV(_logistic(), method="exact", cv=2, random_state=0)
    search = GridSearchCV(model, {"objective": ["f1", "jaccard"]}, cv=folds).fit(X, Y)
    assert [p["objective"] for p in search.cv_results_["params"]] == ["f1", "jaccard"]
    # The default scoring is each candidate's own objective of its predictions.
    metrics = {
        "f1": lambda y, p: f1_score(y, p, average="micro"),
        "jaccard": lambda y, p: jaccard_score(y, p, average="micro"),
    }
    for candidate, objective in enumerate(["f1", "jaccard"]):
        for split, (train, test) in enumerate(folds):
            fitted = clone(model).set_params(objective=objective).fit(X[train], Y[train])
            expected = metrics[objective](Y[test], fitted.predict(X[test]))
            got = search.cv_results_[f"split{split}_test_score"][candidate]
            assert got == pytest.approx(expected, abs=1e-6)
    best = search.best_estimator_
    assert best.objective in ("f1", "jaccard")
    assert search.score(X, Y) == pytest.approx(
        metrics[best.objective](Y, best.predict(X)), abs=1e-6
    )


def test_the_objective_is_not_a_hyperparameter_of_the_method():
    X, Y = _data()
    for own in ("objective", "average"):
        value = {"objective": "f1", "average": "macro"}[own]
        model = ThresholdClassifierCV(_logistic(), method="exact", hyperparameters={own: value})
        with pytest.raises(
            ValueError, match=rf"^hyperparameters: '{own}' is a parameter of .* set {own}= instead"
        ):
            model.fit(X, Y)


def test_prefit_fits_the_thresholds_on_the_given_rows_only():
    X, Y = _data()
    classifier = _logistic().fit(X[:60], Y[:60])
    model = ThresholdClassifierCV(classifier, method="exact", cv="prefit").fit(X[60:], Y[60:])
    held_out = np.arange(len(Y)) >= 60
    expected = jaxthresh.fit_exact(classifier.predict_proba(X), Y, held_out).thresholds
    np.testing.assert_array_equal(model.thresholds_, expected)
    assert model.estimator_ is classifier and model.cv_results_ is None
    with pytest.raises(ValueError, match=r"^cv: 'prefit' needs an estimator that is already"):
        ThresholdClassifierCV(_logistic(), cv="prefit").fit(X, Y)


def test_integer_sample_weights_are_repeated_rows():
    X, Y = _data()
    classifier = _logistic().fit(X[:60], Y[:60])
    counts = np.random.default_rng(0).integers(0, 3, 60)
    weighted = ThresholdClassifierCV(classifier, method="exact", cv="prefit")
    weighted.fit(X[60:], Y[60:], sample_weight=pd.Series(counts))
    repeated = ThresholdClassifierCV(classifier, method="exact", cv="prefit")
    repeated.fit(np.repeat(X[60:], counts, 0), np.repeat(Y[60:], counts, 0))
    np.testing.assert_array_equal(weighted.thresholds_, repeated.thresholds_)
    assert weighted.best_score_ == repeated.best_score_
    assert weighted.score(X[60:], Y[60:], sample_weight=counts.tolist()) == pytest.approx(
        repeated.score(np.repeat(X[60:], counts, 0), np.repeat(Y[60:], counts, 0))
    )


def test_params_clone_and_pickle():
    X, Y = _data()
    model = ThresholdClassifierCV(_logistic(), method="exact", cv=3, random_state=0)
    params = model.get_params()
    assert params["method"] == "exact" and params["estimator__estimator__C"] == 1.0
    model.set_params(objective=objectives.fbeta(2.0), estimator__estimator__C=0.5)
    assert model.objective == objectives.fbeta(2.0) and model.estimator.estimator.C == 0.5
    model.fit(X, Y)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        restored.cv_results_["thresholds"], model.cv_results_["thresholds"]
    )
    assert not hasattr(clone(model), "thresholds_")


def test_grid_search_over_method_and_objective_in_a_pipeline():
    X, Y = _data()
    pipeline = make_pipeline(
        StandardScaler(), ThresholdClassifierCV(_logistic(), cv=2, random_state=0)
    )
    grid = {
        "thresholdclassifiercv__method": ["exact", "default"],
        "thresholdclassifiercv__objective": [objectives.fbeta(0.5), objectives.fbeta(2.0)],
    }
    search = GridSearchCV(pipeline, grid, cv=2, scoring="f1_micro").fit(X, Y)
    assert len(search.cv_results_["params"]) == 4
    best = search.best_estimator_[-1]
    candidates = [(m, o) for m in grid[next(iter(grid))] for o in grid[list(grid)[1]]]
    assert (best.method, best.objective) in candidates
    assert search.predict(X).shape == Y.shape
    # The default scoring is the estimator's own objective.
    default = GridSearchCV(pipeline, {"thresholdclassifiercv__method": ["exact"]}, cv=2)
    assert 0 < default.fit(X, Y).best_score_ <= 1


def test_saved_thresholds_deploy_through_fixed_classifier(tmp_path):
    X, Y = _data()
    names = ["sun", "rain", "snow"]
    labels = pd.DataFrame(Y, columns=names)
    model = ThresholdClassifierCV(_logistic(), method="exact", cv=3, random_state=0)
    model.fit(X, labels)
    assert model.class_names_ == names
    path = tmp_path / "thresholds.json"
    model.save_thresholds(path)
    record = thresholds_file.read_thresholds(path)
    assert record.method == "exact" and record.class_names == names
    np.testing.assert_array_equal(record.thresholds, model.thresholds_)
    assert record.score == pytest.approx(model.best_score_, abs=1e-6)
    assert record.objective == "f1" and record.average == "micro"
    assert record.summary["response_method"] == "predict_proba"
    assert record.summary["cross_validation"]["folds"] == 3

    deployed = FixedThresholdClassifier(_logistic(), str(path)).fit(X, labels)
    np.testing.assert_array_equal(deployed.predict(X), model.predict(X))
    np.testing.assert_array_equal(deployed.thresholds_, model.thresholds_)
    # A fitted classifier predicts without fit; the file is read then.
    ready = FixedThresholdClassifier(model.estimator_, path)
    np.testing.assert_array_equal(ready.predict(X), model.predict(X))
    assert ready.score(X, Y) == model.score(X, Y)

    with pytest.raises(ValueError, match=r"^thresholds: 3 values in .* for the 2 classes of y$"):
        FixedThresholdClassifier(_logistic(), path).fit(X, Y[:, :2])
    with pytest.raises(ValueError, match=r"^thresholds: 3 values in .* for a classifier of 2"):
        FixedThresholdClassifier(_logistic().fit(X, Y[:, :2]), path).predict(X)
    renamed = labels.rename(columns={"rain": "hail"})
    with pytest.raises(ValueError, match=r"^thresholds: class 1 is 'rain' in the file but 'hail'"):
        FixedThresholdClassifier(_logistic(), path).fit(X, renamed)
    with pytest.raises(ValueError, match=r"^response_method: the thresholds were fitted on"):
        FixedThresholdClassifier(
            model.estimator_, path, response_method="decision_function"
        ).predict(X)
    with pytest.raises(ValueError, match=r"^class_names: expected 3 strings"):
        model.save_thresholds(tmp_path / "other.json", class_names=["a"])


def test_fixed_classifier_with_numbers():
    X, Y = _data()
    classifier = _logistic().fit(X, Y)
    half = FixedThresholdClassifier(classifier, 0.5).fit(X, Y)
    np.testing.assert_array_equal(half.predict(X), classifier.predict(X))
    per_class = FixedThresholdClassifier(classifier, [0.2, 0.5, 0.8])
    np.testing.assert_array_equal(
        per_class.predict(X), classifier.predict_proba(X) > np.float32([0.2, 0.5, 0.8])
    )
    with pytest.raises(ValueError, match=r"^thresholds: expected one number per class"):
        FixedThresholdClassifier(classifier, [[0.5]]).fit(X, Y)


@pytest.mark.parametrize(
    "classifier",
    [_logistic(), KNeighborsClassifier(5)],  # [n, classes]; one [n, 2] array per class
    ids=["one-vs-rest", "k-neighbors"],
)
def test_fixed_classifier_predicts_without_fit_when_the_classifier_is_fitted(classifier):
    X, Y = _data(classes=4)
    fitted = clone(classifier).fit(X, Y)
    scores = _scores_of(fitted, X)
    for thresholds in (0.5, np.float32(0.5), np.array(0.5), [0.5] * 4):
        model = FixedThresholdClassifier(fitted, thresholds)  # no fit
        predictions = model.predict(X)
        assert predictions.dtype == np.int64 and predictions.shape == Y.shape
        np.testing.assert_array_equal(predictions, scores > np.float32(0.5))
        np.testing.assert_array_equal(model.predict_proba(X), scores)
        assert model.score(X, Y) == pytest.approx(f1_score(Y, predictions, average="micro"))
        np.testing.assert_array_equal(predictions, clone(model).fit(X, Y).predict(X))
    if hasattr(fitted, "decision_function"):
        margins = FixedThresholdClassifier(fitted, 0.0, response_method="decision_function")
        np.testing.assert_array_equal(margins.decision_function(X), fitted.decision_function(X))
        np.testing.assert_array_equal(margins.predict(X), fitted.decision_function(X) > 0)
    # An unfitted classifier: scikit-learn's NotFittedError, as its own estimators give.
    with pytest.raises(NotFittedError, match="nor is its estimator"):
        FixedThresholdClassifier(clone(classifier), 0.5).predict(X)


def test_fixed_classifier_counts_the_classes_of_a_binary_classifier():
    X, Y = _data()
    binary = LogisticRegression(solver="liblinear").fit(X, Y[:, 0])  # predict_proba [n, 2]
    positive = binary.predict_proba(X)[:, 1:]
    np.testing.assert_array_equal(FixedThresholdClassifier(binary, 0.3).predict(X), positive > 0.3)
    np.testing.assert_array_equal(
        FixedThresholdClassifier(binary, [0.3]).predict(X), positive > np.float32(0.3)
    )
    with pytest.raises(ValueError, match=r"^thresholds: 2 values for a classifier of 1 class$"):
        FixedThresholdClassifier(binary, [0.3, 0.3]).predict(X)
    two_classes = _logistic().fit(X, Y[:, :2])  # also [n, 2], one score per class
    np.testing.assert_array_equal(
        FixedThresholdClassifier(two_classes, 0.3).predict(X), two_classes.predict_proba(X) > 0.3
    )
    with pytest.raises(ValueError, match=r"^thresholds: 1 value for a classifier of 2 classes$"):
        FixedThresholdClassifier(two_classes, [0.3]).predict(X)


def _saved_for_3_classes(folder):
    X, Y = _data()
    model = ThresholdClassifierCV(_logistic().fit(X, Y), method="exact", cv="prefit")
    model.fit(X, Y).save_thresholds(folder / "thresholds.json")
    return folder / "thresholds.json"


_FINITE = r"must be finite numbers \(as float32\), got "
_SHAPE = r"expected one number per class \(1-D\) or one number, got shape "
_KIND = "expected the path of a thresholds.json, an array of numbers or a number, got "


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        pytest.param([0.5] * 3, "3 values for ", id="list"),
        pytest.param(np.full(3, 0.5), "3 values for ", id="array"),
        pytest.param([0.5], "1 value for ", id="one value"),
        pytest.param(_saved_for_3_classes, "3 values in .*thresholds.json for ", id="file"),
        pytest.param([0.5, np.nan, 0.5, np.nan], _FINITE + r"nan at class 1 \(2 such", id="nan"),
        pytest.param([0.5, 1e39, 0.5, 0.5], _FINITE + r"1e\+39 at class 1", id="overflow"),
        pytest.param(
            float("nan"), r"must be a finite number \(as float32\), got nan$", id="nan 0-D"
        ),
        pytest.param(np.full((1, 4), 0.5), _SHAPE + r"\(1, 4\)$", id="2-D"),
        pytest.param([], _SHAPE + r"\(0,\)$", id="empty"),
        pytest.param(True, _KIND + "bool$", id="bool"),
        pytest.param(["0.5"] * 4, _KIND + "list$", id="strings"),
        pytest.param("missing.json", "file not found: missing.json$", id="no file"),
    ],
)
def test_bad_thresholds_name_themselves(thresholds, message, tmp_path, monkeypatch):
    """The same error from predict without fit (against the classifier's 4 classes) and
    from fit (against y's)."""
    monkeypatch.chdir(tmp_path)
    if callable(thresholds):
        thresholds = thresholds(tmp_path)
    X, Y = _data(classes=4)
    classifier = _logistic().fit(X, Y)
    counted = message.endswith(" for ")
    without_fit = message + ("a classifier of 4 classes$" if counted else "")
    with pytest.raises(ValueError, match=f"^thresholds: {without_fit}"):
        FixedThresholdClassifier(classifier, thresholds).predict(X)
    with pytest.raises(ValueError, match=f"^thresholds: {without_fit}"):
        FixedThresholdClassifier(classifier, thresholds).predict_proba(X)
    with_fit = message + ("the 4 classes of y$" if counted else "")
    with pytest.raises(ValueError, match=f"^thresholds: {with_fit}"):
        FixedThresholdClassifier(_logistic(), thresholds).fit(X, Y)


def _bad(parameter, value, **fit):
    return pytest.param({parameter: value}, fit, parameter, id=f"{parameter}={value!r}")


@pytest.mark.parametrize(
    ("params", "fit", "name"),
    [
        _bad("method", "nope"),
        _bad("cv", 1),
        _bad("cv", "five"),
        _bad("objective", "nope"),
        _bad("objective", 2.0),
        _bad("objective", "fbeta"),
        _bad("average", "mean"),
        _bad("response_method", "predict"),
        _bad("hyperparameters", {"nope": 1}),
        _bad("hyperparameters", {"beta": 2.0}),
        _bad("hyperparameters", {"objective": "f1"}),
        _bad("hyperparameters", {"average": "macro"}),
        _bad("hyperparameters", [("epochs", 3)]),
        pytest.param(
            {"method": "sgl", "hyperparameters": {"epochs": 0}}, {}, "epochs", id="epochs=0"
        ),
        pytest.param({}, {"y": np.arange(120)}, "y", id="y 1-D"),
        pytest.param({}, {"y": np.full((120, 3), 2)}, "y", id="y not 0/1"),
        pytest.param({}, {"y": np.ones((119, 3))}, "y", id="y rows"),
        pytest.param({}, {"sample_weight": -np.ones(120)}, "sample_weight", id="weights"),
    ],
)
def test_bad_parameters_name_themselves(params, fit, name):
    X, Y = _data()
    arguments = {"y": Y, **fit}
    model = ThresholdClassifierCV(_logistic(), **{"method": "exact", **params})
    with pytest.raises(ValueError, match=f"^{name}: "):
        model.fit(X, **arguments)


def test_weights_that_leave_no_row_are_refused():
    X, Y = _data()
    classifier = _logistic().fit(X, Y)
    zeros = np.zeros(len(Y))
    everywhere = r"^sample_weight: every weight is zero; at least one must be > 0$"
    for model in (
        ThresholdClassifierCV(_logistic(), method="exact", cv=3),
        ThresholdClassifierCV(classifier, method="exact", cv="prefit"),
        FixedThresholdClassifier(_logistic(), 0.5),
    ):
        with pytest.raises(ValueError, match=everywhere):
            model.fit(X, Y, sample_weight=zeros)
    with pytest.raises(ValueError, match=everywhere):
        FixedThresholdClassifier(classifier, 0.5).score(X, Y, sample_weight=zeros)
    # Weights only in one fold: the other folds' fit would have no rows.
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    weights = np.zeros(len(Y))
    weights[folds[1][1]] = 1.0
    model = ThresholdClassifierCV(_logistic(), method="exact", cv=folds)
    with pytest.raises(ValueError, match=r"^sample_weight: every weight outside fold 1 is 0"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # OneVsRest takes no sample_weight
            model.fit(X, Y, sample_weight=weights)
    weights[folds[0][1][:5]] = 1.0  # rows of two folds: every fold fits on some
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert model.fit(X, Y, sample_weight=weights).thresholds_.shape == (3,)


def test_save_thresholds_names_the_path_asked_for(tmp_path, monkeypatch):
    """An unwritable path is reported as given, not as the writer's hidden temporary."""
    monkeypatch.chdir(tmp_path)
    X, Y = _data()
    model = ThresholdClassifierCV(_logistic().fit(X, Y), method="exact", cv="prefit").fit(X, Y)
    with pytest.raises(ValueError, match=r"^path: .*missing_folder/x\.json") as error:
        model.save_thresholds("missing_folder/x.json")
    assert ".tmp" not in str(error.value) and ".x.json" not in str(error.value)
    assert list(tmp_path.iterdir()) == []


# A method declared for this test only: it declares the objective and average every method
# must, but ignores them; takes a bound and a random key, and returns thresholds drawn from
# both.


class _BoundResult(NamedTuple):
    thresholds: jax.Array


@dataclasses.dataclass(frozen=True, eq=False)
class _Bound(base.Method):
    name = "test_bound"
    result_type = _BoundResult
    min_precision: jax.Array = base.hyperparameter("fraction", 0.5, help="A bound.")
    key: jax.Array = base.hyperparameter("key", None, help="A key.")
    objective: objectives.Objective = base.objective_field()
    average: str = base.average_field()

    def fit_rows(self, rows):
        draw = jax.random.uniform(self.key, (rows.scores.shape[1],))
        return _BoundResult(self.min_precision * draw.astype(jnp.float32))


@pytest.fixture
def bound_method():
    base.register(_Bound)
    yield _Bound.name
    METHODS.pop(_Bound.name)


def test_a_method_is_taken_generically_from_the_registry(bound_method, tmp_path):
    X, Y = _data()
    model = ThresholdClassifierCV(
        _logistic(),
        method=bound_method,
        cv=2,
        hyperparameters={"min_precision": 0.25},
        random_state=1,
    ).fit(X, Y)
    assert np.all((model.thresholds_ >= 0) & (model.thresholds_ <= 0.25))
    again = clone(model).fit(X, Y)  # random_state seeds the method's key
    np.testing.assert_array_equal(again.thresholds_, model.thresholds_)
    other = clone(model).set_params(random_state=2).fit(X, Y)
    assert not np.array_equal(other.thresholds_, model.thresholds_)
    given = clone(model).set_params(
        hyperparameters={"min_precision": 0.25, "key": jax.random.key(7)}
    )
    expected = 0.25 * np.asarray(jax.random.uniform(jax.random.key(7), (3,)), np.float32)
    np.testing.assert_allclose(given.fit(X, Y).thresholds_, expected, rtol=1e-6)
    model.save_thresholds(tmp_path / "t.json")
    record = thresholds_file.read_thresholds(tmp_path / "t.json")
    assert record.method == bound_method and record.hyperparameters["min_precision"] == 0.25
    with pytest.raises(ValueError, match=r"^min_precision: must be in"):
        clone(model).set_params(hyperparameters={"min_precision": 2}).fit(X, Y)


# Every registered method that takes a precision or recall bound, with its first one.
CONSTRAINED = [
    (name, next(bound for bound in ("min_precision", "min_recall") if bound in declared))
    for name, declared in ((name, m.hyperparameters()) for name, m in METHODS.items())
    if {"min_precision", "min_recall"} & set(declared)
]


@pytest.mark.parametrize(("method", "bound"), CONSTRAINED)
def test_registered_constrained_methods_through_the_estimator(method, bound):
    X, Y = _data()
    options = {bound: 0.6}
    model = ThresholdClassifierCV(
        _logistic(), method=method, cv=3, random_state=0, hyperparameters=options
    ).fit(X, Y)
    expected = jaxthresh.fit(method, _out_of_fold(_logistic(), X, Y), Y, **options)
    np.testing.assert_array_equal(model.thresholds_, expected.thresholds)


def test_fit_warnings_are_issued_once():
    X, Y = _data()
    Y = Y.copy()
    Y[:, 2] = 0  # no positive rows: every fit warns, the folds' warnings are the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # one-vs-rest: a constant label
        with pytest.warns(FitWarning, match="^labels: no positive rows") as caught:
            ThresholdClassifierCV(_logistic(), method="exact", cv=2).fit(X, Y)
    assert len([w for w in caught if issubclass(w.category, FitWarning)]) == 1


def test_import_needs_scikit_learn_only_for_this_module():
    program = (
        "import sys; import jaxthresh; assert 'jaxthresh.sklearn' not in sys.modules;"
        "assert 'sklearn' not in sys.modules; sys.modules['sklearn'] = None\n"
        "try:\n import jaxthresh.sklearn\nexcept ImportError as e:\n print(e)"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'jaxthresh[sklearn]'" in result.stdout


# scikit-learn's checks. ThresholdClassifierCV's target is a 0/1 indicator matrix
# [n, classes]; the checks below give other targets, or expect single-output results.
_NOT_0_1 = "the check's y takes the values {1, 2}; a multi-label target is 0/1"
_ONE_D = "the check gives a 1-D y; the target is a 0/1 indicator matrix [n, classes]"
EXPECTED_FAILURES = {
    "check_estimators_dtypes": _NOT_0_1,
    "check_sample_weights_pandas_series": _NOT_0_1,
    "check_sample_weights_not_an_array": _NOT_0_1,
    "check_sample_weights_shape": _NOT_0_1,
    "check_sample_weights_not_overwritten": _NOT_0_1,
    "check_classifier_data_not_an_array": _NOT_0_1,
    "check_fit2d_1feature": _NOT_0_1,
    "check_classifiers_classes": _ONE_D,
    "check_decision_proba_consistency": _ONE_D,
    "check_classifiers_train": "expects predict of shape (n,) (single output)",
    "check_estimator_sparse_array": "expects a binary predict_proba [n, 2]; it is [n, classes]",
    "check_estimator_sparse_matrix": "expects a binary predict_proba [n, 2]; it is [n, classes]",
    "check_classifier_multioutput": "expects predict == (predict_proba > 0.5); the "
    "thresholds are tuned",
}
SEARCH_ONLY = {
    "check_sample_weight_equivalence_on_dense_data": "cross-validation folds differ when "
    "rows are repeated instead of weighted (as for TunedThresholdClassifierCV)",
    "check_sample_weight_equivalence_on_sparse_data": "the same, on sparse data",
}


def _expected_failures(estimator):
    if isinstance(estimator, ThresholdClassifierCV):
        return {**EXPECTED_FAILURES, **SEARCH_ONLY}
    fixed = dict(EXPECTED_FAILURES)
    fixed.pop("check_classifier_multioutput")  # thresholds at 0.5 predict as the classifier
    unweighted = (
        "OneVsRestClassifier.fit takes no sample_weight without metadata routing; "
        "FixedThresholdClassifier warns and fits without them"
    )
    fixed["check_sample_weight_equivalence_on_dense_data"] = unweighted
    fixed["check_sample_weight_equivalence_on_sparse_data"] = unweighted
    return fixed


#: Checks that do not apply, left out rather than skipped: array API inputs (the check
#: runs only with $SCIPY_ARRAY_API set; the estimators convert every input to NumPy and
#: claim no array API support).
NOT_APPLICABLE = {"check_array_api_input"}


def _checks(estimator):
    """scikit-learn's checks of ``estimator`` that apply, as ``parametrize_with_checks``
    gives them (expected failures marked xfail), without :data:`NOT_APPLICABLE`."""
    checks = estimator_checks_generator(
        estimator, expected_failed_checks=_expected_failures(estimator), mark="xfail"
    )
    # Expected failures come as pytest.param(estimator, check, marks=...).
    return [
        item
        for item in checks
        if getattr(_check_of(item), "func", _check_of(item)).__name__ not in NOT_APPLICABLE
    ]


def _check_of(item):
    return item.values[1] if hasattr(item, "values") else item[1]


def _check_id(value):
    """Test ids that name the check (``check_fit2d_1feature``), not ``check15``."""
    if callable(value):
        check = getattr(value, "func", value)
        keywords = getattr(value, "keywords", {})
        arguments = ",".join(f"{k}={v}" for k, v in keywords.items())
        return f"{check.__name__}({arguments})" if arguments else check.__name__
    return type(value).__name__


@pytest.mark.filterwarnings("ignore:sample_weight. OneVsRestClassifier:UserWarning")
@pytest.mark.parametrize(
    ("estimator", "check"), _checks(FixedThresholdClassifier(_logistic(), 0.5)), ids=_check_id
)
def test_scikit_learn_checks_fixed(estimator, check):
    check(estimator)


# About 20 s of CPU (a threshold fit compiled for each of the checks' data shapes).
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jaxthresh.core.diagnostics.FitWarning")
@pytest.mark.parametrize(
    ("estimator", "check"),
    _checks(ThresholdClassifierCV(_logistic(), method="exact", cv=2)),
    ids=_check_id,
)
def test_scikit_learn_checks_cv(estimator, check):
    check(estimator)


def test_readme_example(tmp_path, monkeypatch):
    section = _section((PROJECT_ROOT / "README.md").read_text(), "Use it with scikit-learn")
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    expected = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        exec(compile(code, "README.md", "exec"), {})
    assert printed.getvalue() == expected
    assert (tmp_path / "thresholds.json").is_file()


def test_fixed_classifier_compares_float64_thresholds_as_numpy_does():
    # Issue 19, case 5: float64 thresholds within float32 rounding of the scores.
    from sklearn.dummy import DummyClassifier
    from sklearn.multioutput import MultiOutputClassifier

    X = np.zeros((4, 1))
    y = np.array([[1, 0], [1, 1], [0, 1], [1, 0]])
    fitted = MultiOutputClassifier(DummyClassifier(strategy="prior")).fit(X, y)
    scores = np.stack([p[:, 1] for p in fitted.predict_proba(X)], axis=1)  # 0.75, 0.5
    thresholds = np.nextafter(scores[0], -1)  # float64 just below: float32 rounds it up
    assert np.all(np.float32(thresholds) == np.float32(scores[0]))
    model = FixedThresholdClassifier(fitted, thresholds)
    np.testing.assert_array_equal(model.predict(X), (scores > thresholds).astype(int))
    assert model.predict(X).all()
    assert model.fit(X, y).thresholds_.dtype == np.float64
