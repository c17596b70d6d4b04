"""The score a fit maximizes, as a value: an objective of the confusion counts.

An :class:`Objective` is a pytree: its form (``name``, and a custom function) is static,
its coefficients (F-beta's beta, a utility's gains and costs) are traced, so that ``vmap``
and sweeps can vary them. Every objective scores one class from its counts
``(tp, fp, fn, tn)`` (:meth:`Objective.per_class`); :meth:`Objective.averaged` reduces the
classes: ``"micro"`` scores the counts pooled over the classes (a utility sums its per-class
gains), ``"macro"`` averages the per-class scores, ``"weighted"`` weighs each class by its
positives.

What an exact search needs of an objective is its shape in the counts
(:meth:`Objective.fraction`): linear-fractional objectives (F-beta, Jaccard, precision) are
``numerator / denominator`` with both linear in ``(tp, fp, fn, tn, 1)`` (Dinkelbach's
method maximizes any of them); linear ones (accuracy, balanced accuracy, recall, a utility)
have a constant denominator. MCC and custom objectives have no such shape: they are exact
per class only.

Adding an objective of the counts is one entry of :data:`FIXED_FRACTIONS` (Jaccard:
``"jaccard": ((1, 0, 0, 0, 0), (1, 1, 1, 0, 0))``, ``TP / (TP + FP + FN)``), or one
function registered with :func:`form` (as MCC and balanced accuracy are below).

Zero division: where a fraction's denominator is 0 (no positives and no predictions, for
F-beta and Jaccard), the score is ``zero_division`` (default 1.0: nothing to find and
nothing wrongly found); MCC is 0 where it is undefined, as scikit-learn has it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "AVERAGES",
    "BETA_RANGE",
    "FIXED_FRACTIONS",
    "NAMES",
    "Confusion",
    "Fraction",
    "Objective",
    "custom",
    "fbeta",
    "form",
    "from_record",
    "get",
    "utility",
]

#: The reductions over classes.
AVERAGES = ("micro", "macro", "weighted")

#: The betas of F-beta accepted: beyond them F-beta is precision (or recall) to float32's
#: precision, and ``beta**2`` is subnormal (flushed to zero) or too large to multiply the
#: counts.
BETA_RANGE = (1e-4, 1e4)


class Confusion(NamedTuple):
    """Per-class confusion counts, each ``[..., classes]`` (any real dtype)."""

    tp: jax.Array
    fp: jax.Array
    fn: jax.Array
    tn: jax.Array


class Fraction(NamedTuple):
    """``numerator . x / denominator . x`` with ``x = (tp, fp, fn, tn, 1)``: each a
    sequence or array of 5 coefficients (``[5]``, or ``[5, classes]`` per class)."""

    numerator: jax.Array
    denominator: jax.Array


class _Form(NamedTuple):
    function: Callable
    fraction: bool  # the function returns a Fraction (else per-class scores)
    additive: bool  # micro sums the per-class scores (else scores the pooled counts)
    monotone: bool  # never higher for predicting more negatives and no more positives


_FORMS: dict[str, _Form] = {}


def form(name: str, *, fraction: bool, additive: bool = False, monotone: bool = True):
    """Registers the objective ``name``: a function of ``(coefficients, positives,
    negatives)`` returning its :class:`Fraction` (``fraction=True``), or of
    ``(coefficients, counts: Confusion)`` returning per-class scores. ``additive``: its
    micro average sums the per-class scores (else it scores the pooled counts).
    ``monotone``: predicting more negative rows and no more positive ones never raises it,
    whatever its coefficients (so the exact searches need try only the cuts just below
    positive scores)."""

    def register(function):
        _FORMS[name] = _Form(function, fraction, additive, monotone)
        return function

    return register


def _ratio(numerator, denominator, zero_division):
    empty = denominator == 0
    return jnp.where(empty, zero_division, numerator / jnp.where(empty, 1.0, denominator))


@form("fbeta", fraction=True)
def _fbeta(beta, positives, negatives):
    """F-beta: ``(1 + b^2) TP / ((1 + b^2) TP + b^2 FN + FP)``."""
    del positives, negatives
    b2 = beta * beta
    zero = jnp.zeros_like(b2)
    return Fraction(
        jnp.stack([1 + b2, zero, zero, zero, zero]), jnp.stack([1 + b2, zero + 1, b2, zero, zero])
    )


#: The objectives that are one fixed fraction of ``(tp, fp, fn, tn, 1)``:
#: name -> (numerator, denominator). Recall and accuracy have constant denominators (the
#: positives; every label), which makes them linear in the counts.
FIXED_FRACTIONS = {
    "jaccard": ((1, 0, 0, 0, 0), (1, 1, 1, 0, 0)),  # TP / (TP + FP + FN)
    "precision": ((1, 0, 0, 0, 0), (1, 1, 0, 0, 0)),  # TP / (TP + FP)
    "recall": ((1, 0, 0, 0, 0), (1, 0, 1, 0, 0)),  # TP / (TP + FN)
    "accuracy": ((1, 0, 0, 1, 0), (1, 1, 1, 1, 0)),  # (TP + TN) / every label
}


def _fixed_fraction(name: str):
    """The form of the fixed fraction ``FIXED_FRACTIONS[name]``."""
    fraction = Fraction(*FIXED_FRACTIONS[name])
    return lambda coefficients, positives, negatives: fraction


for _name in FIXED_FRACTIONS:
    form(_name, fraction=True)(_fixed_fraction(_name))


@form("balanced_accuracy", fraction=True)
def _balanced_accuracy(coefficients, positives, negatives):
    """``(TP / P + TN / N) / 2``, the mean of recall and specificity (of the one that
    exists where a class has no positives or no negatives)."""
    positives, negatives = (jnp.asarray(v, jnp.float32) for v in (positives, negatives))
    halves = jnp.where((positives > 0) & (negatives > 0), 0.5, 1.0)
    zero = jnp.zeros_like(positives)
    on_positives = jnp.where(positives > 0, halves / jnp.where(positives > 0, positives, 1), 0)
    on_negatives = jnp.where(negatives > 0, halves / jnp.where(negatives > 0, negatives, 1), 0)
    one = zero + 1
    return Fraction(
        jnp.stack([on_positives, zero, zero, on_negatives, zero]),
        jnp.stack([zero, zero, zero, zero, one]),
    )


@form("mcc", fraction=False, monotone=False)
def _mcc(coefficients, counts: Confusion):
    """Matthews' correlation coefficient, 0 where it is undefined."""
    tp, fp, fn, tn = counts
    product = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return _ratio(tp * tn - fp * fn, jnp.sqrt(product), 0.0)


@form("utility", fraction=True, additive=True, monotone=False)
def _utility(gains, positives, negatives):
    """The total gain ``g_tp TP + g_fp FP + g_fn FN + g_tn TN``."""
    del positives, negatives
    one = jnp.ones_like(gains[0])
    return Fraction(
        jnp.concatenate([gains, jnp.zeros_like(gains[:1])]),
        jnp.stack([one * 0, one * 0, one * 0, one * 0, one]),
    )


#: The objectives given by name alone, and what each is.
NAMES = {
    "f1": "F1, the harmonic mean of precision and recall",
    "jaccard": "intersection over union, TP / (TP + FP + FN)",
    "accuracy": "the share of labels predicted right",
    "balanced_accuracy": "the mean of recall and specificity",
    "mcc": "Matthews' correlation coefficient",
    "precision": "TP / (TP + FP)",
    "recall": "TP / (TP + FN)",
}


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["coefficients"],
    meta_fields=["name", "function"],
)
@dataclasses.dataclass(frozen=True)
class Objective:
    """An objective of the per-class confusion counts (a pytree).

    Attributes:
      name: static, the form (``"fbeta"``, ``"jaccard"``, ..., ``"utility"``, ``"custom"``).
      coefficients: traced: F-beta's beta (float32 scalar); a utility's gains
        ``float32[4]`` or ``[4, classes]`` (for TP, FP, FN, TN); None for the others.
      function: static, a custom objective's ``fn(tp, fp, fn, tn) -> [classes]``.
    """

    name: str
    coefficients: jax.Array | None = None
    function: Callable | None = None

    def per_class(self, counts: Confusion, zero_division: float = 1.0) -> jax.Array:
        """The score of each class, ``[..., classes]`` float32, from its counts."""
        counts = Confusion(*(jnp.asarray(c, jnp.float32) for c in counts))
        if self.name == "custom":
            return jnp.asarray(self.function(*counts), jnp.float32)
        declared = _FORMS[self.name]
        if not declared.fraction:
            return declared.function(self.coefficients, counts)
        positives, negatives = counts.tp + counts.fn, counts.fp + counts.tn
        fraction = self.fraction(positives, negatives)
        terms = (*counts, jnp.ones_like(counts.tp))
        numerator, denominator = (_dot(c, terms) for c in fraction)
        return _ratio(numerator, denominator, zero_division)

    def fraction(self, positives, negatives) -> Fraction | None:
        """The objective as a :class:`Fraction` of ``(tp, fp, fn, tn, 1)`` for a class with
        ``positives`` and ``negatives`` (their weights), or None where it has no such shape
        (MCC, custom)."""
        declared = _FORMS.get(self.name)
        if declared is None or not declared.fraction:
            return None
        numerator, denominator = declared.function(self.coefficients, positives, negatives)
        return Fraction(*(jnp.asarray(c, jnp.float32) for c in (numerator, denominator)))

    @property
    def additive(self) -> bool:
        """Whether its micro average sums the per-class scores (a utility's total gain)."""
        return self.name in _FORMS and _FORMS[self.name].additive

    @property
    def is_fraction(self) -> bool:
        """Whether it is a :class:`Fraction` of the counts (all but MCC and custom ones):
        then its micro average has an exact search (Dinkelbach's method)."""
        return self.name in _FORMS and _FORMS[self.name].fraction

    def check_exact(self, average: str, method: str) -> None:
        """``ValueError`` naming ``objective`` where no exact search maximizes this
        objective averaged so (micro MCC, micro custom objectives)."""
        if not self.separable(average) and not self.is_fraction:
            raise ValueError(
                f"objective: {method} has no exact search for micro {self.name} (neither "
                "linear nor a ratio of linear functions of the pooled counts); fit it with "
                "sgl, numerical or dicho, or average it macro or weighted"
            )

    @property
    def monotone(self) -> bool:
        """Whether predicting more negatives (and no more positives) never raises it: then a
        class's best cut is "predict nothing" or one just below a positive score. False for
        MCC, a utility (a false alarm may gain more than a true negative) and custom
        objectives, whose exact searches try a cut below every distinct score."""
        return self.name in _FORMS and _FORMS[self.name].monotone

    def separable(self, average: str) -> bool:
        """Whether the score over classes is a fixed weighted sum of per-class scores
        (:meth:`class_weights`): ``"macro"``, ``"weighted"``, and ``"micro"`` of an additive
        objective. Else (``"micro"``) it scores the counts pooled over classes."""
        return average != "micro" or self.additive

    def class_weights(self, positives, average: str) -> jax.Array:
        """float32[classes]: the weights ``w`` with ``averaged = sum_c w_c per_class_c`` of a
        :meth:`separable` average, from the classes' positive weights ``[classes]``
        (``"weighted"`` with no positives at all weighs the classes equally)."""
        positives = jnp.asarray(positives, jnp.float32)
        ones = jnp.ones_like(positives)
        if average == "micro":
            return ones
        if average == "weighted":
            total = jnp.sum(positives)
            return jnp.where(
                total > 0, positives / jnp.where(total > 0, total, 1), ones / ones.size
            )
        return ones / ones.size

    @property
    def elementwise(self) -> bool:
        """Whether it scores each count of any array layout on its own (no per-class
        coefficients, no custom function): then counts need not put classes last."""
        if self.name not in _FORMS:
            return False
        return self.coefficients is None or jnp.ndim(self.coefficients) <= 1

    def take_classes(self, index) -> Objective:
        """The objective of the classes ``index`` (int array) alone: per-class coefficients
        gathered, the others as they are."""
        if self.name == "utility" and self.coefficients.ndim == 2:
            return Objective(self.name, self.coefficients[:, index], self.function)
        return self

    @property
    def label(self) -> str:
        """A short name of the score: ``F1``, ``F0.5``, ``jaccard``, ``utility``..."""
        if self.name == "fbeta" and not _is_traced(self.coefficients):
            return f"F{float(np.float32(self.coefficients)):g}"
        return self.name

    def record(self):
        """The objective as JSON: its name, or ``{"name": ..., coefficients...}``
        (:func:`from_record` reads it back; a custom function is recorded by name only)."""
        if self.name == "fbeta":
            beta = json_floats(self.coefficients)
            return "f1" if beta == 1 else {"name": "fbeta", "beta": beta}
        if self.name == "utility":
            gains = [json_floats(row) for row in np.asarray(self.coefficients)]
            return {"name": "utility", **dict(zip(("tp", "fp", "fn", "tn"), gains, strict=True))}
        if self.name == "custom":
            return {"name": "custom"}
        return self.name

    def averaged(
        self, counts: Confusion, average: str = "micro", zero_division: float = 1.0
    ) -> jax.Array:
        """The score over classes: ``"micro"`` (the pooled counts; a utility's per-class
        gains summed), ``"macro"`` (the mean per-class score) or ``"weighted"`` (per-class
        scores weighted by the classes' positives; the mean where no class has any).
        ``[...]`` float32."""
        if average == "micro" and not self.additive:
            pooled = Confusion(*(jnp.sum(jnp.asarray(c, jnp.float32), axis=-1) for c in counts))
            return self.per_class(Confusion(*(c[..., None] for c in pooled)), zero_division)[..., 0]
        scores = self.per_class(counts, zero_division)
        if average == "micro":
            return jnp.sum(scores, axis=-1)
        if average == "macro":
            return jnp.mean(scores, axis=-1)
        if average == "weighted":
            positives = jnp.asarray(counts.tp, jnp.float32) + jnp.asarray(counts.fn, jnp.float32)
            total = jnp.sum(positives, axis=-1)
            weighted = jnp.sum(scores * positives, axis=-1)
            # No positives at all: the classes weigh the same (as class_weights has it).
            mean = jnp.mean(scores, axis=-1)
            return jnp.where(total > 0, weighted / jnp.where(total > 0, total, 1), mean)
        raise ValueError(f"average: must be one of {', '.join(AVERAGES)}; got {average!r}")


def json_floats(values):
    """float32 ``values`` as the shortest decimals that read back as the same floats (a
    number, or nested lists; a row of equal numbers as one number): how objectives and
    hyperparameters are recorded."""
    array = np.asarray(values, np.float32)
    if array.ndim == 2:
        return [json_floats(row) for row in array]
    if array.ndim == 1 and array.size and np.all(array == array[0]):
        array = array[0]
    return np.asarray(array).astype(str).astype(float).tolist()


def from_record(record) -> Objective:
    """The objective recorded by :meth:`Objective.record` (``ValueError`` naming
    ``objective`` if it is not one; a custom function cannot be read back)."""
    if isinstance(record, str):
        return get(record)
    if (
        isinstance(record, dict)
        and record.get("name") == "fbeta"
        and set(record) == {"name", "beta"}
    ):
        return fbeta(record["beta"])
    if isinstance(record, dict) and record.get("name") == "utility":
        gains = {k: v for k, v in record.items() if k != "name"}
        if set(gains) <= {"tp", "fp", "fn", "tn"}:
            return utility(**gains)
    if isinstance(record, dict) and record.get("name") == "custom":
        raise ValueError("objective: a custom objective's function is not recorded")
    raise ValueError(f"objective: not a recorded objective: {record!r}")


def _dot(coefficients, terms) -> jax.Array:
    """``sum_k coefficients[k] * terms[k]`` over the 5 terms ``(tp, fp, fn, tn, 1)``, each
    coefficient a scalar or per class (its last axis the classes'). Written as five
    products: XLA on CPU runs a reduction over a stacked leading axis of 5 hundreds of
    times slower (78 s against 0.06 s on 8192 x 527 counts)."""
    coefficients = jnp.asarray(coefficients, jnp.float32)
    return sum(coefficients[k] * terms[k] for k in range(5))


def _is_traced(value) -> bool:
    return any(isinstance(v, jax.core.Tracer) for v in jax.tree.leaves(value))


def fbeta(beta) -> Objective:
    """F-beta, ``beta`` the weight of recall (1: F1): a number from 1e-4 to 1e4."""
    if isinstance(beta, bool) or np.shape(beta) != ():
        raise ValueError(f"objective: fbeta's beta must be a number, got {beta!r}")
    if not _is_traced(beta):
        value = np.float32(np.asarray(beta))  # the range as float32 holds it
        low, high = BETA_RANGE
        if not np.float32(low) <= value <= np.float32(high):
            raise ValueError(
                f"objective: fbeta's beta must be between {low:g} and {high:g}, got {beta!r}"
            )
    return Objective("fbeta", jnp.asarray(beta, jnp.float32))


def utility(tp=0.0, fp=0.0, fn=0.0, tn=0.0) -> Objective:
    """The total gain of the counts: each coefficient a number or one per class (a gain
    for each true positive, a cost, as a negative number, for each false alarm...)."""
    values = [tp, fp, fn, tn]
    shapes = {np.shape(v) for v in values}
    if any(isinstance(v, bool) or len(np.shape(v)) > 1 for v in values) or len(shapes - {()}) > 1:
        raise ValueError(
            "objective: utility's tp, fp, fn and tn must each be a number or one per class "
            f"(the same length), got shapes {[np.shape(v) for v in values]}"
        )
    per_class = shapes - {()}
    length = next(iter(per_class))[0] if per_class else None
    if length == 0:
        raise ValueError("objective: utility's per-class coefficients are empty")
    shape = () if length is None else (length,)
    gains = jnp.stack([jnp.broadcast_to(jnp.asarray(v, jnp.float32), shape) for v in values])
    if not _is_traced(values) and not np.all(np.isfinite(np.asarray(gains))):
        raise ValueError(f"objective: utility's coefficients must be finite, got {values}")
    if not _is_traced(values) and not np.any(np.asarray(gains)):
        raise ValueError("objective: utility's coefficients are all 0: every threshold ties")
    return Objective("utility", gains)


def custom(fn: Callable) -> Objective:
    """Any traceable ``fn(tp, fp, fn, tn) -> scores [..., classes]`` of float32 counts
    ``[..., classes]`` (higher is better): exact per class (``"macro"``, ``"weighted"``)."""
    if not callable(fn):
        raise ValueError(f"objective: custom needs a function of (tp, fp, fn, tn), got {fn!r}")
    return Objective("custom", None, fn)


def get(objective, n_classes: int | None = None) -> Objective:
    """``objective`` as an :class:`Objective`: a name of :data:`NAMES`, or a value built by
    :func:`fbeta`, :func:`utility` or :func:`custom`. With ``n_classes``, per-class
    coefficients are checked against it and a custom function against counts of that
    many classes (it must return one finite-typed score per class)."""
    if isinstance(objective, str):
        if objective == "f1":
            return fbeta(1.0)
        if objective in NAMES:
            return Objective(objective)
        raise ValueError(
            f"objective: unknown name {objective!r}; use one of {', '.join(NAMES)}, or "
            "objectives.fbeta(beta), objectives.utility(...), objectives.custom(fn)"
        )
    if not isinstance(objective, Objective) or (
        objective.name not in _FORMS and objective.name != "custom"
    ):
        raise ValueError(
            f"objective: expected a name or a jaxthresh.objectives value, got {objective!r}"
        )
    if n_classes is None:
        return objective
    if objective.name == "utility" and objective.coefficients.ndim == 2:
        if objective.coefficients.shape[1] != n_classes:
            raise ValueError(
                f"objective: utility has coefficients for {objective.coefficients.shape[1]} "
                f"classes, the scores have {n_classes}"
            )
    if objective.name == "custom":
        probe = Confusion(*(jax.ShapeDtypeStruct((n_classes,), jnp.float32) for _ in range(4)))
        try:
            shape = jax.eval_shape(objective.function, *probe)
        except Exception as error:  # the user's function: any error it raises
            raise ValueError(
                f"objective: the custom function fails on counts of {n_classes} classes: "
                f"{type(error).__name__}: {error}"
            ) from None
        if getattr(shape, "shape", None) != (n_classes,) or not jnp.issubdtype(
            shape.dtype, jnp.number
        ):
            raise ValueError(
                f"objective: the custom function must return one real score per class, "
                f"shape ({n_classes},), got {getattr(shape, 'shape', shape)}"
            )
    return objective
