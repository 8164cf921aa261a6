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
