import json

import jax.numpy as jnp
import numpy as np
import pytest

import jaxthresh
from jaxthresh import streaming
from tests.conftest import random_problem
from tests.processes import check_all, run_processes


def _grid_problem(seed, rows=300, classes=4):
    """Scores on the centres of 8 equal cells of [0, 1] (exact in binary): an 8-cell
    histogram is exact."""
    rng = np.random.default_rng(seed)
    labels = rng.random((rows, classes)) < 0.3
    level = np.clip(rng.integers(0, 6, (rows, classes)) + 2 * labels, 0, 7)
    return ((level + 0.5) / 8).astype(np.float32), labels


def test_histogram_counts_every_row_in_its_cell():
    scores, labels = random_problem(0, rows=500, classes=3)
    histogram = streaming.histogram_pass(scores, labels, bins=16, chunk_rows=37)
    assert isinstance(histogram, jaxthresh.Histogram)
    assert jaxthresh.histogram_pass is streaming.histogram_pass
    assert jaxthresh.histogram_of_chunks is streaming.histogram_of_chunks
    low, width = np.asarray(histogram.low), np.asarray(histogram.width)
    edges = 2 * (low / 2 + np.arange(17, dtype=np.float32)[:, None] * (width / 2))
    for c in range(3):
        # Cell k holds (edge_k, edge_k+1]; cell 0 also holds the lowest score.
        cell = np.searchsorted(edges[1:16, c], scores[:, c], side="left")
        np.testing.assert_array_equal(histogram.counts[c], np.bincount(cell, minlength=16))
        np.testing.assert_array_equal(
            histogram.positives[c], np.bincount(cell[labels[:, c]], minlength=16)
        )
    np.testing.assert_array_equal(histogram.high, scores.max(0))


def test_npy_files_memmaps_arrays_and_chunk_sizes_agree(tmp_path):
    scores, labels = random_problem(1, rows=203, classes=5)
    np.save(tmp_path / "scores.npy", scores)
    np.save(tmp_path / "labels.npy", labels.astype(np.uint8))
    reference = streaming.histogram_pass(scores, labels, bins=32, chunk_rows=1000)
    sources = [
        (tmp_path / "scores.npy", tmp_path / "labels.npy", 10),
        (str(tmp_path / "scores.npy"), labels, 64),
        (np.load(tmp_path / "scores.npy", mmap_mode="r"), labels, 7),
    ]
    for scores_source, labels_source, chunk_rows in sources:
        got = streaming.histogram_pass(scores_source, labels_source, bins=32, chunk_rows=chunk_rows)
        for field in ("low", "width", "counts", "positives"):
            np.testing.assert_array_equal(getattr(got, field), getattr(reference, field))


def test_one_shot_iterators_need_a_score_range():
    scores, labels = random_problem(2, rows=40, classes=2)
    chunks = iter([(scores[:20], labels[:20]), (scores[20:], labels[20:])])
    with pytest.raises(ValueError, match="score_range"):
        streaming.histogram_of_chunks(chunks)
    chunks = iter([(scores[:20], labels[:20]), (scores[20:], labels[20:])])
    histogram = streaming.histogram_of_chunks(chunks, bins=8, score_range=(0.0, 1.0))
    np.testing.assert_array_equal(histogram.counts.sum(1), [40, 40])
    np.testing.assert_allclose(histogram.low, 0.0)
    np.testing.assert_allclose(histogram.width, 1 / 8)


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_exact_on_an_exact_histogram_is_the_exact_optimum(average):
    scores, labels = _grid_problem(3)
    histogram = streaming.histogram_pass(scores, labels, bins=8, score_range=(0.0, 1.0))
    got = jaxthresh.fit_histogram("exact", histogram, average=average)
    expected = jaxthresh.fit_exact(scores, labels, average=average)
    assert float(got.score) == pytest.approx(float(expected.score), abs=1e-6)
    applied = jaxthresh.f1_score(labels, scores > np.asarray(got.thresholds), average=average)
    assert applied == pytest.approx(float(got.score), abs=1e-6)


@pytest.mark.slow
def test_sgl_and_numerical_on_an_exact_histogram_match_the_row_fits():
    scores, labels = _grid_problem(4)
    histogram = streaming.histogram_pass(scores, labels, bins=8, score_range=(0.0, 1.0))
    sgl = jaxthresh.fit_histogram("sgl", histogram, init=0.42, epochs=60)
    rows = jaxthresh.fit_sgl(scores, labels, init=0.42, epochs=60)
    np.testing.assert_allclose(sgl.thresholds, rows.thresholds, atol=1e-5)
    np.testing.assert_allclose(sgl.history, rows.history, atol=1e-6)
    # Without init both start at the best single threshold, the same on an exact histogram.
    sgl = jaxthresh.fit_histogram("sgl", histogram, epochs=60)
    rows = jaxthresh.fit_sgl(scores, labels, epochs=60)
    np.testing.assert_allclose(sgl.thresholds, rows.thresholds, atol=1e-5)
    np.testing.assert_allclose(sgl.history, rows.history, atol=1e-6)
    numerical = jaxthresh.fit_histogram("numerical", histogram, init=0.42, epochs=30)
    numerical_rows = jaxthresh.fit_numerical(scores, labels, init=0.42, epochs=30)
    np.testing.assert_allclose(numerical.history, numerical_rows.history, atol=1e-6)


def test_fine_histograms_track_the_row_fits():
    scores, labels = random_problem(5, rows=3000, classes=6)
    histogram = streaming.histogram_pass(scores, labels, bins=2048)
    sgl = jaxthresh.fit_histogram("sgl", histogram, init=0.4)
    rows = jaxthresh.fit_sgl(scores, labels, init=0.4)
    np.testing.assert_allclose(sgl.thresholds, rows.thresholds, atol=2e-3)
    exact = jaxthresh.fit_histogram("exact", histogram)
    assert float(exact.score) == pytest.approx(
        float(jaxthresh.fit_exact(scores, labels).score), abs=2e-3
    )


def test_bad_inputs_are_named(tmp_path):
    scores, labels = random_problem(6, rows=30, classes=2)
    broken = scores.copy()
    broken[17, 1] = np.nan
    with pytest.raises(
        ValueError,
        match=r"scores: 1 value\(s\) are NaN or infinite .*\(first at row 7, class 1: nan\), "
        r"counting rows from the chunk at rows 10\.\.19",
    ):
        streaming.histogram_pass(broken, labels, chunk_rows=10)
    row, column = np.argwhere(labels)[0]
    with pytest.raises(
        ValueError,
        match=rf"labels: values must be 0 or 1, found 2 at row {row}, class {column} "
        rf"\({labels.sum()} such values\), counting rows from the chunk at rows 0\.\.29",
    ):
        streaming.histogram_pass(scores, labels.astype(np.int8) * 2)
    with pytest.raises(ValueError, match="labels: shape"):
        streaming.histogram_pass(scores, labels[:, :1])
    with pytest.raises(ValueError, match="scores: expected a non-empty"):
        streaming.histogram_pass(scores[:0], labels[:0])
    with pytest.raises(ValueError, match="scores: cannot read"):
        streaming.histogram_pass(tmp_path / "missing.npy", labels)
    histogram = streaming.histogram_pass(scores, labels, bins=8)
    with pytest.raises(ValueError, match="method: 'dicho' has no histogram path; use one of"):
        jaxthresh.fit_histogram("dicho", histogram)
    with pytest.raises(ValueError, match="method: unknown method 'magic'"):
        jaxthresh.fit_histogram("magic", histogram)
    with pytest.raises(ValueError, match="bins: not a hyperparameter"):
        jaxthresh.fit_histogram("sgl", histogram, init=0.5, bins=4)
    with pytest.raises(ValueError, match="score_range: expected finite low < high"):
        streaming.histogram_pass(scores, labels, score_range=(1.0, 0.0))
    with pytest.raises(ValueError, match=r"score_range: scores at rows 0\.\.29 lie outside"):
        streaming.histogram_pass(scores * 3 - 1, labels, score_range=(0.0, 1.0))
    with pytest.raises(ValueError, match="chunks: expected an iterable"):
        streaming.histogram_of_chunks(None, score_range=(0, 1))
    with pytest.raises(ValueError, match=r"chunks: expected \(scores, labels\) pairs"):
        streaming.histogram_of_chunks([scores], score_range=(0, 1))
    with pytest.raises(ValueError, match=r"scores: chunk at rows 0\.\.29 has shape"):
        streaming.histogram_of_chunks([(scores[:, :0], labels[:, :0])], score_range=(0, 1))
    with pytest.raises(ValueError, match=r"scores: chunk at rows 30\.\.59 has shape"):
        streaming.histogram_of_chunks([(scores, labels), (scores[:, :1], labels[:, :1])])
    truncated = tmp_path / "truncated.npy"
    np.save(truncated, scores)
    truncated.write_bytes(truncated.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"scores: .* is shorter than its header says"):
        streaming.histogram_pass(truncated, labels)
    with pytest.raises(ValueError, match=r"histogram: expected a jaxthresh\.Histogram"):
        jaxthresh.fit_histogram("exact", (1, 2, 3))
    with pytest.raises(ValueError, match="hyperparameters: method 'exact' does not take slope"):
        jaxthresh.fit_histogram("exact", histogram, slope=3.0)
    with pytest.raises(ValueError, match="epochs: must be >= 1"):
        jaxthresh.fit_histogram("sgl", histogram, epochs=0)


def test_a_nan_in_a_wide_chunk_is_found():
    # XLA's minimum and maximum on CPU pass over a NaN in chunks this wide: checked apart.
    scores, labels = random_problem(13, rows=1700, classes=64)
    scores[5, 3] = np.nan
    for score_range in (None, (0.0, 1.0)):
        with pytest.raises(ValueError, match=r"first at row 5, class 3: nan"):
            streaming.histogram_pass(scores, labels, bins=16, score_range=score_range)


def test_per_class_score_ranges():
    scores, labels = random_problem(7, rows=300, classes=4)
    low = np.array([0.0, -1.0, 0.0, 0.01], np.float32)
    high = np.array([1.0, 1.0, 2.0, 0.99], np.float32)
    histogram = streaming.histogram_pass(scores, labels, bins=8, score_range=(low, high))
    np.testing.assert_array_equal(histogram.low, low)
    np.testing.assert_allclose(histogram.width, (high - low) / 8, rtol=1e-6)
    np.testing.assert_array_equal(histogram.counts.sum(1), [300] * 4)
    # Each class's histogram is that of its column alone on its own range.
    for c in range(4):
        alone = streaming.histogram_pass(
            scores[:, c : c + 1], labels[:, c : c + 1], bins=8, score_range=(low[c], high[c])
        )
        np.testing.assert_array_equal(histogram.counts[c], alone.counts[0])
        np.testing.assert_array_equal(histogram.positives[c], alone.positives[0])
    # A number and an array, lists, JAX arrays: the same.
    for score_range in ((0.0, [1.0, 1.0, 1.0, 1.0]), (jnp.zeros(4), jnp.ones(4))):
        got = streaming.histogram_pass(scores, labels, bins=8, score_range=score_range)
        expected = streaming.histogram_pass(scores, labels, bins=8, score_range=(0.0, 1.0))
        for field in jaxthresh.Histogram._fields:
            np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
    refused = [
        ((np.zeros(3), np.ones(3)), r"score_range: 3 values per class for scores of 4 classes"),
        (
            (low, high[:2]),
            r"score_range: low and high must each be a number or one number per class "
            r"\[classes\], got shapes \(4,\) and \(2,\)",
        ),
        ((np.zeros((2, 4)), 1.0), r"got shapes \(2, 4\) and \(\)"),
        (
            (low, np.where(np.arange(4) == 2, np.nan, high)),
            r"score_range: expected finite low < high for every class, got \(0\.0, nan\) "
            r"at class 2 \(1 such classes\)",
        ),
        ((high, low), r"at class 0 \(4 such classes\)"),
        ((0.5, np.ones(4)), r"score_range: scores at rows 0\.\.299 lie outside \(0\.5, 1\.0\)"),
        (
            (low, np.where(np.arange(4) == 3, 0.5, high)),
            r"score_range: scores at rows 0\.\.299 lie outside the range of class 3, "
            r"\(0\.0099\d*, 0\.5\) \(from .*; 1 such classes\)",
        ),
        ((1,), r"score_range: expected \(low, high\), got \(1,\)"),
    ]
    for score_range, message in refused:
        with pytest.raises(ValueError, match=message):
            streaming.histogram_pass(scores, labels, bins=8, score_range=score_range)


def test_all_processes_in_one_process_is_the_plain_pass():
    scores, labels = random_problem(8, rows=200, classes=3)
    for score_range in (None, (0.0, 1.0)):
        plain = streaming.histogram_pass(scores, labels, bins=16, score_range=score_range)
        every = streaming.histogram_pass(
            scores, labels, bins=16, score_range=score_range, all_processes=True
        )
        for field in jaxthresh.Histogram._fields:
            np.testing.assert_array_equal(getattr(every, field), getattr(plain, field))
    for no_rows in (
        lambda: streaming.histogram_pass(scores[:0], labels[:0], all_processes=True),
        lambda: streaming.histogram_of_chunks([], score_range=(0, 1), all_processes=True),
    ):
        with pytest.raises(ValueError, match="scores: no rows on any process"):
            no_rows()
    with pytest.raises(ValueError, match="scores: expected a non-empty"):
        streaming.histogram_pass(scores[:0], labels[:0])
    with pytest.raises(ValueError, match="score_range: required when chunks is a one-shot"):
        streaming.histogram_of_chunks(iter([(scores, labels)]), all_processes=True)
    with streaming.fail_together():  # one process: only runs the block
        pass


_TWO_PROCESSES = """
import json
import numpy as np
from jaxthresh import streaming
from tests.conftest import random_problem

folder = sys.argv[5]
scores, labels = random_problem(12, rows=4200, classes=64)
mine = slice(0, 2500) if PROCESS_ID == 0 else slice(2500, 4200)
# Process 0 reads its rows from .npy files in chunks, process 1 passes arrays.
if PROCESS_ID == 0:
    own = (f"{folder}/scores0.npy", f"{folder}/labels0.npy")
else:
    own = (scores[mine], labels[mine])
class_ranges = tuple(np.load(f"{folder}/class_ranges.npy"))
ranges = {"own range": None, "one range": (0.0, 1.0), "class ranges": class_ranges}
histograms = {
    name: streaming.histogram_pass(
        *own, bins=256, chunk_rows=1000, score_range=score_range, all_processes=True
    )
    for name, score_range in ranges.items()
}
# Process 1 without rows contributes nothing.
first = slice(0, 2500) if PROCESS_ID == 0 else slice(0, 0)
histograms["no rows on process 1"] = streaming.histogram_pass(
    scores[first], labels[first], bins=256, all_processes=True
)
np.savez(
    f"{folder}/histograms{PROCESS_ID}.npz",
    **{f"{name}/{field}": np.asarray(value) for name, h in histograms.items()
       for field, value in h._asdict().items()},
)

def refused(make_rows, **kwargs):
    try:
        streaming.histogram_pass(*make_rows(), bins=256, all_processes=True, **kwargs)
    except ValueError as error:
        return str(error)

def nan_on_process_1():
    bad = scores[mine].copy()
    bad[5, 3] = np.nan if PROCESS_ID == 1 else bad[5, 3]
    return bad, labels[mine]

columns = slice(0, 64 - PROCESS_ID)
errors = {
    "a NaN on process 1": refused(nan_on_process_1),
    "other classes": refused(lambda: (scores[mine, columns], labels[mine, columns])),
    "other ranges": refused(lambda: (scores[mine], labels[mine]), score_range=(0, 1 + PROCESS_ID)),
    "no rows": refused(lambda: (scores[:0], labels[:0])),
}
try:
    streaming.histogram_pass(scores[mine], labels[mine], bins=128 + PROCESS_ID, all_processes=True)
except ValueError as error:
    errors["other bins"] = str(error)
print(json.dumps(errors))
"""


def test_histogram_pass_over_two_processes_is_that_of_all_rows(tmp_path):
    scores, labels = random_problem(12, rows=4200, classes=64)
    np.save(tmp_path / "scores0.npy", scores[:2500])
    np.save(tmp_path / "labels0.npy", labels[:2500].astype(np.uint8))
    class_ranges = (scores.min(0) - 0.125, np.linspace(1.0, 2.0, 64, dtype=np.float32))
    np.save(tmp_path / "class_ranges.npy", np.stack(class_ranges))
    outputs = check_all(run_processes(_TWO_PROCESSES, args=[tmp_path], timeout=120))
    expected = {
        "own range": streaming.histogram_pass(scores, labels, bins=256),
        "one range": streaming.histogram_pass(scores, labels, bins=256, score_range=(0.0, 1.0)),
        "class ranges": streaming.histogram_pass(
            scores, labels, bins=256, score_range=class_ranges
        ),
        "no rows on process 1": streaming.histogram_pass(scores[:2500], labels[:2500], bins=256),
    }
    for process in (0, 1):
        got = np.load(tmp_path / f"histograms{process}.npz")
        for name, histogram in expected.items():
            for field, value in histogram._asdict().items():
                np.testing.assert_array_equal(got[f"{name}/{field}"], value, f"{name}/{field}")
    errors = [json.loads(output.splitlines()[-1]) for output in outputs]
    nan = "scores: 1 value(s) are NaN or infinite as float32 (first at row 5, class 3: nan), "
    assert errors[1]["a NaN on process 1"].startswith(nan)
    assert errors[0]["a NaN on process 1"] == errors[1]["a NaN on process 1"] + " (on process 1)"
    for process in (0, 1):
        assert errors[process]["other classes"] == (
            "scores: process 1 has 63 classes, process 0 64; every process must give the same"
        )
        assert errors[process]["other bins"] == (
            "bins: process 1 has 129 bins, process 0 128; every process must give the same"
        )
        assert errors[process]["other ranges"] == (
            "score_range: process 1 gives another range than process 0; every process must "
            "give the same"
        )
        assert errors[process]["no rows"] == "scores: no rows on any process"
