import json
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxthresh
from jaxthresh import benchmarks
from tests.conftest import PROJECT_ROOT

TABLE2 = [sys.executable, str(PROJECT_ROOT / "experiments" / "table2.py")]


def _run(*flags, env=None):
    return subprocess.run([*TABLE2, *flags], capture_output=True, text=True, env=env, timeout=600)


def test_load_benchmark_shapes(benchmark_dir):
    dcase = benchmarks.load_benchmark("dcase2017", benchmark_dir)
    assert dcase.valid_scores.shape == (488, 17) and dcase.eval_scores.shape == (1103, 17)
    assert dcase.valid_labels.dtype == bool
    audioset = benchmarks.load_benchmark("audioset", benchmark_dir)
    assert audioset.valid_scores.shape == (20371, 527) and audioset.eval_scores is None


def test_load_benchmark_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "dcase2019.npz")):
        benchmarks.load_benchmark("dcase2019", tmp_path)
    with pytest.raises(ValueError, match="dataset: unknown benchmark 'mnist'"):
        benchmarks.load_benchmark("mnist", tmp_path)


def test_benchmark_hyperparameters_keep_only_what_a_method_takes():
    overrides = {"init": None, "slope": 20.0, "threshold": None, "epochs": 5}
    assert benchmarks.benchmark_hyperparameters("dcase2017", "sgl", overrides) == {
        "init": 0.3,
        "slope": 20.0,
        "epochs": 5,
    }
    assert benchmarks.benchmark_hyperparameters("dcase2019", "default", overrides) == {
        "threshold": 0.5
    }


def test_table2_reproduces_dcase_and_writes_json(benchmark_dir, tmp_path):
    output = tmp_path / "table2.json"
    result = _run(
        "--dataset=dcase2017,dcase2019",
        f"--data_dir={benchmark_dir}",
        f"--output={output}",
    )
    assert result.returncode == 0, result.stderr
    assert "| dcase2017 | sgl |" in result.stdout
    report = json.loads(output.read_text())
    expected = {
        ("dcase2017", "default"): (59.0, 53.8),
        ("dcase2019", "default"): (71.3, 70.1),
        ("dcase2017", "sgl"): (62.0, 61.8),
        ("dcase2019", "sgl"): (73.0, 72.9),
    }
    for (dataset, method), (eval_f1, valid_f1) in expected.items():
        row = report[dataset][method]
        assert row["eval_f1"] == pytest.approx(eval_f1, abs=0.2)
        assert row["valid_f1"] == pytest.approx(valid_f1, abs=0.2)
        assert row["seconds"] > 0
        assert len(row["thresholds"]) == {"dcase2017": 17, "dcase2019": 10}[dataset]
    # The heuristic baselines land within 1.5 points of the paper's eval figures.
    for dataset in ("dcase2017", "dcase2019"):
        for method in ("dicho", "numerical"):
            row = report[dataset][method]
            assert row["eval_f1"] == pytest.approx(row["paper"]["eval_f1"], abs=1.5)
        assert set(report[dataset]) == set(jaxthresh.METHODS)


@pytest.mark.parametrize("dataset", ["dcase2017", "dcase2019"])
def test_exact_valid_f1_is_the_highest(benchmark_dir, dataset):
    benchmark = benchmarks.load_benchmark(dataset, benchmark_dir)
    overrides = {"key": jax.random.key(0)}
    results = {
        method: benchmarks.run_method(
            benchmark, method, benchmarks.benchmark_hyperparameters(dataset, method, overrides)
        )
        for method in jaxthresh.METHODS
    }
    for method, result in results.items():
        assert results["exact"].valid_f1 >= result.valid_f1, method


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--dataset=mnist"], "dataset: unknown benchmark 'mnist'"),
        (["--methods=sgl,magic"], "method: unknown method 'magic'"),
        (["--epochs=0", "--dataset=dcase2019"], "epochs: must be >= 1"),
        (["--no_such_flag=1"], "Unknown command line flag 'no_such_flag'"),
        (["--data_dir=/nonexistent/folder"], "/nonexistent/folder/dcase2017.npz.*--data_dir"),
    ],
)
def test_table2_bad_input_is_one_line_and_status_2(tmp_path, flags, message):
    output = tmp_path / "out.json"
    result = _run(*flags, f"--output={output}")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0]
    assert re.search(message, lines[0]), lines[0]
    assert not output.exists()


def test_markdown_table_shows_the_paper_beside_ours():
    row = benchmarks.MethodResult(
        valid_f1=61.83, eval_f1=61.96, seconds=0.25, thresholds=np.zeros(17)
    )
    table = benchmarks.markdown_table({"dcase2017": {"sgl": row}})
    assert "| dcase2017 | sgl | 61.96 | 61.83 | 62.0 | 61.8 | 0.25 |" in table


def test_synthetic_problem_shapes_and_rates():
    scores, labels = benchmarks.synthetic_problem(jax.random.key(0), rows=2000, classes=5)
    assert scores.shape == labels.shape == (2000, 5) and labels.dtype == bool
    rates = np.asarray(labels).mean(axis=0)
    assert np.all(rates < 0.2)
    assert float(np.asarray(scores)[np.asarray(labels)].mean()) > float(np.asarray(scores).mean())


def test_benchmark_binary_prints_and_saves(tmp_path):
    output = tmp_path / "bench.json"
    binary = [sys.executable, str(PROJECT_ROOT / "experiments" / "benchmark.py")]
    small = ["--rows=300", "--classes=7", "--epochs=5", "--repeats=2", f"--output={output}"]

    def run(*flags):
        result = subprocess.run(
            [*binary, *small, *flags], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        return result, json.loads(output.read_text())

    for path in ("fused", "autodiff", "histogram"):
        result, figures = run(f"--path={path}")
        assert figures["path"] == path and figures["fit_seconds_median"] > 0
        assert figures["ms_per_epoch"] > 0 and figures["epoch_to_floor_ratio"] > 0
        assert "epoch_to_floor_ratio:" in result.stdout
    assert figures["pass_plus_fit_seconds"] == pytest.approx(
        figures["pass_seconds_median"] + figures["fit_seconds_median"], abs=2e-4
    )
    # Out of core: write .npy files, then read them back in chunks.
    run(f"--write_npy={tmp_path}", "--chunk_rows=64")
    assert np.load(tmp_path / "scores.npy").shape == (300, 7)
    assert np.load(tmp_path / "labels.npy").dtype == np.bool_
    npy = [f"--scores_npy={tmp_path / 'scores.npy'}", f"--labels_npy={tmp_path / 'labels.npy'}"]
    _, figures = run("--path=histogram", "--chunk_rows=64", "--score_range=0,1", *npy)
    assert (
        figures["source"] == "npy" and figures["rows"] == 300 and figures["fit_seconds_median"] > 0
    )
    bad = subprocess.run([*binary, "--rows=0"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
        "benchmark.py: error: rows: must be >= 1, got 0"
    ]
