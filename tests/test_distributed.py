"""funcgrad.distributed: errors in-process, and 2-rank jobs under mpiexec (the ``mpi`` extra)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import funcgrad as fg
from funcgrad import distributed

HERE = Path(__file__).parent / "distributed"


def _mpiexec() -> str | None:
    local = Path(sys.executable).parent / "mpiexec"  # the virtual environment's, from mpich
    return str(local) if local.exists() else shutil.which("mpiexec")


def _run(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    mpiexec = _mpiexec()
    if mpiexec is None:
        pytest.fail("mpiexec not found: install the 'mpi' extra (pip install '.[test]' does)")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent), OMP_NUM_THREADS="1")
    cmd = [mpiexec, "-n", "2", sys.executable, str(HERE / script), *args]  # script: a path too
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_without_initialize_there_is_one_process():
    assert distributed.process_index() == 0 and distributed.process_count() == 1
    assert fg.process_index() == 0 and fg.process_count() == 1


def test_initialize_without_mpi4py_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r"'mpi' extra"):
        distributed.initialize()


def test_initialize_twice_is_an_error(monkeypatch):
    class FakeComm:
        def Get_rank(self):
            return 0

        def Get_size(self):
            return 1

    monkeypatch.setattr(distributed._state, "comm", FakeComm())
    with pytest.raises(RuntimeError, match="already initialized"):
        distributed.initialize()


def test_two_ranks_broadcast_and_gather():
    result = _run("rank_basics.py")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rank 0 passed the barrier" in result.stdout
    assert "rank 1 passed the barrier" in result.stdout


def test_a_failing_rank_aborts_the_job_instead_of_hanging():
    result = _run("rank_basics.py", "fail", timeout=60)  # a hang would time out
    assert result.returncode != 0
    assert "rank 1 fails before the collective" in result.stderr
    assert "rank 0 passed the barrier" not in result.stdout


def test_data_parallel_training_over_two_processes_equals_one_device():
    """examples/data_parallel.py under mpiexec -n 2 (2 virtual devices each: a global axis of 4):
    both ranks end with identical parameters, equal to single-device training."""
    example = Path(__file__).parent.parent / "examples" / "data_parallel.py"
    result = _run(str(example), "--mpi", "--smoke", "--steps", "3", "--devices", "2", "--compare")
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    sums = re.findall(r"process (\d) of 2, parameter checksum (\S+)", out)
    assert sorted(r for r, _ in sums) == ["0", "1"] and sums[0][1] == sums[1][1], out
    diffs = [float(d) for d in re.findall(r"max \|param difference\| (\S+)", out)]
    assert len(diffs) == 2 and max(diffs) < 1e-6, out
