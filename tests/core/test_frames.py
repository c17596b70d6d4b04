import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from jaxthresh.core import frames
from tests.conftest import PROJECT_ROOT

SCORES = pd.DataFrame(np.full((4, 3), 0.5), columns=["dog", "cat", 7])


def test_column_names_of_a_data_frame_as_str():
    assert frames.column_names(SCORES) == ["dog", "cat", "7"]
    assert frames.column_names(SCORES.to_numpy()) is None
    assert frames.column_names(SCORES["dog"]) is None  # a Series: one class, no columns
    assert frames.column_names([[0.5, 0.5]]) is None


def test_class_names_come_from_the_scores_else_the_labels():
    labels = pd.DataFrame(np.ones((4, 3), bool), columns=SCORES.columns)
    assert frames.class_names(SCORES) == ["dog", "cat", "7"]
    assert frames.class_names(SCORES.to_numpy(), labels) == ["dog", "cat", "7"]
    assert frames.class_names(SCORES, labels.to_numpy()) == ["dog", "cat", "7"]
    assert frames.class_names(SCORES.to_numpy(), labels.to_numpy()) is None
    assert frames.class_names(SCORES.to_numpy(), None, ["a", "b", "c"]) == ["a", "b", "c"]


@pytest.mark.parametrize(
    "labels_columns, names, message",
    [
        (["cat", "dog", "7"], None, "labels: column 0 is 'cat', but 'dog' in the scores"),
        (["dog", "cat"], None, "labels: 2 columns, but 3 in the scores"),
        (None, ["dog", "cow", "7"], "scores: column 1 is 'cat', but 'cow' in the class_names"),
        (["dog", "cow", "7"], ["dog", "cat", "7"], "labels: column 1 is 'cow', but 'cat' in"),
    ],
)
def test_other_classes_or_another_order_are_refused(labels_columns, names, message):
    """Columns of the same classes in another order would pair scores with the wrong
    labels silently: refused, naming the first difference."""
    labels = np.ones((4, 3), bool)
    if labels_columns is not None:
        labels = pd.DataFrame(labels[:, : len(labels_columns)], columns=labels_columns)
    with pytest.raises(ValueError, match=message):
        frames.class_names(SCORES, labels, names)


# A DataFrame-like object of pandas' own duck type (``columns`` and ``to_numpy``).
FRAME_LIKE = """
class FrameLike:
    ndim = 2
    columns = ("a", "b")

    def to_numpy(self):
        return [[0.5, 0.5]]
"""


def test_pandas_is_never_imported():
    """Without pandas (impossible to import here), jaxthresh imports and reads class names
    from any object of a DataFrame's duck type."""
    code = (
        "import sys\n"
        "sys.modules['pandas'] = None\n"
        "import jaxthresh, jaxthresh.cli.tool, jaxthresh.cli.report\n"
        "from jaxthresh.core import frames\n"
        f"{FRAME_LIKE}\n"
        "assert frames.class_names(FrameLike()) == ['a', 'b']\n"
        "assert frames.class_names([[0.5, 0.5]]) is None\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
