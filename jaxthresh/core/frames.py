"""Class names from pandas DataFrames, without pandas.

Every function that takes scores or labels takes a pandas ``DataFrame`` too (NumPy reads
it as its values). Its column names are the class names: this module reads them by duck
typing (an object with ``columns`` and ``to_numpy``), so pandas is never imported, nor
needed.
"""

from __future__ import annotations


def column_names(value) -> list[str] | None:
    """The column names of a 2-D pandas ``DataFrame`` (each as ``str``), else None."""
    columns = getattr(value, "columns", None)
    if columns is None or not hasattr(value, "to_numpy") or getattr(value, "ndim", 2) != 2:
        return None
    return [str(name) for name in columns]


def class_names(scores, labels=None, names=None) -> list[str] | None:
    """The class names of a problem: ``names`` if given, else the scores' DataFrame
    columns, else the labels'; None if none of them has any.

    Raises:
      ValueError: labels in a DataFrame whose columns are not the scores' (or ``names``),
        in the same order, naming the first class that differs.
    """
    chosen = None if names is None else [str(name) for name in names]
    own = column_names(scores)
    if chosen is not None and own is not None:
        _check_same(own, chosen, "scores", "class_names")
    chosen = chosen if chosen is not None else own
    theirs = column_names(labels)
    if theirs is not None and chosen is not None:
        _check_same(theirs, chosen, "labels", "scores" if names is None else "class_names")
    return chosen if chosen is not None else theirs


def _check_same(names: list[str], expected: list[str], name: str, against: str) -> None:
    if len(names) != len(expected):
        raise ValueError(f"{name}: {len(names)} columns, but {len(expected)} in the {against}")
    for column, (ours, theirs) in enumerate(zip(names, expected, strict=True)):
        if ours != theirs:
            raise ValueError(
                f"{name}: column {column} is {ours!r}, but {theirs!r} in the {against} "
                "(the columns must be the same classes in the same order)"
            )
