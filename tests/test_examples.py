"""The example programs run end to end (in a subprocess, as a user would run them)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script, *args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize("script", ["linear_regression.py", "per_example_grads.py"])
def test_example_smoke(script):
    proc = _run(script, "--smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final loss" in proc.stdout
    assert float(proc.stdout.split("final loss")[1].split()[0]) >= 0.0


def test_per_example_grads_checks_against_a_loop_and_loss_goes_down():
    proc = _run("per_example_grads.py", "--smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    diff = float(proc.stdout.split("loop of grad| =")[1].split()[0])
    assert diff <= 1e-5
    final, initial = proc.stdout.split("final loss")[1].split("(initial")
    assert float(final) < 0.5 * float(initial.strip(" )\n"))


def test_cnn_smoke():
    proc = _run("cnn.py", "--smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "epoch   1/1" in proc.stdout
    acc = float(proc.stdout.split("test accuracy")[1].split()[0])
    assert 0.0 <= acc <= 1.0


def _final_metric(stdout, label):
    return float(stdout.split(label)[1].split()[0])


@pytest.mark.parametrize(
    "script", ["logistic_regression.py", "mlp_digits.py", "checkpoint_resume.py"]
)
def test_training_example_smoke(script):
    proc = _run(script, "--smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 0.0 <= _final_metric(proc.stdout, "final test accuracy") <= 1.0


def test_checkpoint_resume_smoke_prints_zero_difference():
    proc = _run("checkpoint_resume.py", "--smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _final_metric(proc.stdout, "max |resumed - uninterrupted| =") == 0.0


def _import_example(name):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        f"example_{name}", ROOT / "examples" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checkpoint_resume_equals_uninterrupted_run_bit_for_bit(tmp_path):
    import numpy as np

    import funcgrad as fg

    ex = _import_example("checkpoint_resume")
    x_train, _, y_train, _ = ex.load_data()
    dataset = ex.ArrayDataset(x_train[:200], y_train[:200])  # 7 batches an epoch, the last short
    steps = 17  # the checkpoint falls mid-epoch (step 8 = epoch 1, batch 1)
    a = ex.run_uninterrupted(dataset, steps)
    b = ex.run_resumed(dataset, steps, tmp_path / "ckpt.npz")
    assert (tmp_path / "ckpt.npz").exists()
    assert a["step"] == b["step"] == steps
    assert a["loader"]["epoch"] == b["loader"]["epoch"] == 2
    assert a["loader"]["batch"] == b["loader"]["batch"] == 3
    leaves_a, treedef_a = fg.tree_util.tree_flatten(a)
    leaves_b, treedef_b = fg.tree_util.tree_flatten(b)
    assert treedef_a == treedef_b
    for x, y in zip(leaves_a, leaves_b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes()  # bit for bit
    assert int(np.asarray(b["model_state"]["bn1"]["num_batches_tracked"])) == steps
    assert ex.max_difference(a, b) == 0.0
    # a resume that skipped the saved state would not match: the runs really diverge
    fresh = ex.train(ex.init_train_state(seed=1), dataset, steps)
    assert ex.max_difference(a, fresh) > 0.0


# ----------------------------------------------------------------------- data_parallel (pmap)


def test_data_parallel_on_2_virtual_devices_equals_single_device_training():
    """Data-parallel training on 2 virtual devices equals single-device training on the same
    global batch."""
    proc = _run("data_parallel.py", "--smoke", "--steps", "8", "--devices", "2", "--compare")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "devices [cpu:0, cpu:1]" in proc.stdout
    assert _final_metric(proc.stdout, "max |param difference|") <= 1e-5
    acc = _final_metric(proc.stdout, "\ntest accuracy")
    assert acc == _final_metric(proc.stdout, "single-device test accuracy")


# ----------------------------------------------------------------------- on a GPU

EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_on_the_gpu(script):
    """Each example with FUNCGRAD_PLATFORM=gpu (a real GPU: CuPy)."""
    from tests.backends import real_gpu_count

    n = real_gpu_count()
    if n == 0:
        pytest.skip("needs CuPy and an NVIDIA GPU (pip install funcgrad[cuda]); none here")
    args = ["--smoke"]
    if script == "data_parallel.py":
        args += ["--steps", "4", "--devices", str(min(n, 2))]
    env = dict(os.environ, FUNCGRAD_PLATFORM="gpu")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / script), *args],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_data_parallel_example_on_two_fake_gpus_equals_one_device():
    """The data-parallel example's training in-process on 2 (fake) GPUs: the loader's batches
    land on the GPU, pmap runs a shard per GPU, and it equals training on one GPU."""
    import argparse

    import numpy as np

    import funcgrad as fg
    from tests.backends import use_backend

    ex = _import_example("data_parallel")
    args = argparse.Namespace(
        devices=2, epochs=1, batch_size=32, lr=0.02, momentum=0.9, weight_decay=5e-4, seed=0,
        compare=False, smoke=True, steps=3, mpi=False,
    )  # fmt: skip
    with use_backend("fake-gpu"):
        params, acc, _ = ex.train(args, data_parallel=True)
        single, acc1, _ = ex.train(args, data_parallel=False)
        leaves = fg.tree_util.tree_leaves(params)
        assert all(p.device == fg.devices("gpu")[0] for p in leaves)
        assert all(p.device.platform == "gpu" for p in fg.tree_util.tree_leaves(single))
        for a, b in zip(leaves, fg.tree_util.tree_leaves(single)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)
    assert acc == acc1
