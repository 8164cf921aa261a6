"""Every benchmark workload sets up, its variants agree, and each runs once. No timings asserted."""

import json

import numpy as np
import pytest

import benchmarks
import funcgrad as fg
from benchmarks import run
from tests import fake_cupy

# Workloads with a jitted row (issue 6).
JITTED = {"linreg", "chain", "mlp", "per_example", "cnn"}


GPU_WORKLOADS = {"cnn_gpu"}


@pytest.mark.parametrize("name", [w for w in benchmarks.WORKLOADS if w not in GPU_WORKLOADS])
def test_workload_runs(name):
    module = benchmarks.load(name)
    assert module.NAME == name and module.DESCRIPTION
    vs = benchmarks.variants(module)  # setup asserts that the variants compute the same numbers
    assert benchmarks.BASELINE in vs and "funcgrad" in vs
    if name in JITTED:
        assert "funcgrad jit" in vs
    for variant in vs.values():
        variant.fn()


def test_runner_writes_table_and_json(tmp_path, capsys):
    path = tmp_path / "out.json"
    assert run.main(["--only", "chain", "--quick", "--repeats", "1", "--json", str(path)]) == 0
    assert "chain" in capsys.readouterr().out
    rows = json.loads(path.read_text())["results"]
    assert [r["variant"] for r in rows] == ["numpy", "funcgrad", "funcgrad jit"]
    assert rows[0]["ratio"] == 1.0 and rows[1]["unit"] == "us/primitive"


def test_assert_close_catches_divergence():
    with pytest.raises(AssertionError, match="demo"):
        benchmarks.assert_close({"w": np.float32(1.0)}, {"w": np.float32(1.1)}, "demo")


@pytest.mark.parametrize("name", [w for w in benchmarks.WORKLOADS if w == "cnn"])
def test_reports_run(name):
    module = benchmarks.load(name)
    benchmarks.variants(module)
    lines = module.report(repeats=1)
    assert any("first result" in line for line in lines)
    assert any("memory" in line for line in lines)


def test_gpu_workload_reports_itself_skipped_without_a_gpu(capsys):
    with fake_cupy.installed(n_devices=0):
        with pytest.raises(benchmarks.Skip, match="no GPU"):
            benchmarks.variants(benchmarks.load("cnn_gpu"))
        assert run.main(["--only", "cnn_gpu", "--quick", "--repeats", "1", "--check"]) == 0
    out = capsys.readouterr().out
    assert "cnn_gpu: skipped: no GPU" in out and "skipped: cnn_gpu" in out


@pytest.mark.parametrize("backend", ["fake-gpu", "gpu"], indirect=True)
def test_gpu_workload_runs_on_a_gpu(backend, monkeypatch):
    """The CNN step on the (fake) GPU: setup checks it against the CPU step (and PyTorch's)."""
    module = benchmarks.load("cnn_gpu")
    monkeypatch.setattr(module, "BATCH", 4)  # a smaller batch: the same code, quicker
    vs = benchmarks.variants(module)
    assert {"funcgrad gpu", "funcgrad gpu jit", "funcgrad cpu"} <= set(vs)
    assert vs["funcgrad gpu"].target_ratio == 1.5 and benchmarks.baseline(module) == "torch gpu"
    loss, state = vs["funcgrad gpu"].fn()
    assert loss.device == fg.devices("gpu")[0] and np.isfinite(float(loss))
