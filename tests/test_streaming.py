import numpy as np
import pytest

import jaxthresh
from jaxthresh import streaming
from tests.conftest import random_problem


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
