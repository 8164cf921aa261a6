"""fg.save / fg.load: round trips, like= checks, atomic writes, corrupted files, no pickle."""

from __future__ import annotations

import dataclasses
import os
import zipfile
from typing import Any, NamedTuple

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import serialization


class OptState(NamedTuple):
    step: Any
    mu: Any
    nu: Any


@fg.tree_util.register_dataclass
@dataclasses.dataclass
class Point:
    x: Any
    y: Any
    name: str = dataclasses.field(default="p", metadata={"static": True})


def _tree():
    return {
        "params": {
            "conv1": {"weight": fnp.ones((2, 3), dtype=np.float32), "bias": fnp.zeros(3)},
            "fc": [fnp.arange(4, dtype=np.int64), (np.array([True, False]), None)],
        },
        "opt": OptState(step=7, mu={"w": np.full(3, 0.5, np.float64)}, nu=None),
        "point": Point(np.float32(1.5), np.arange(2, dtype=np.int32), "q"),
        "key": fg.random.key(3),
        "scalars": {"lr": 1e-3, "done": False, "n": 2**40, "z": 1 + 2j, "tag": "run-1"},
        3: "int key",
        "empty": ([], {}, ()),
    }


def _assert_same(a, b):
    la, ta = fg.tree_util.tree_flatten(a)
    lb, tb = fg.tree_util.tree_flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert type(x) is type(y), (x, y)
        if isinstance(x, (str, bool, int, float, complex)):
            assert x == y
        else:
            assert x.dtype == y.dtype and np.shape(x) == np.shape(y)
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_with_like_is_exact(tmp_path):
    path = tmp_path / "ckpt.npz"
    tree = _tree()
    fg.save(path, tree)
    out = fg.load(path, like=tree)
    _assert_same(out, tree)
    assert isinstance(out["opt"], OptState) and isinstance(out["point"], Point)
    assert out["point"].name == "q"
    assert isinstance(out["params"]["fc"][1], tuple) and out["params"]["fc"][1][1] is None
    assert out["scalars"]["n"] == 2**40 and isinstance(out["scalars"]["lr"], float)


def test_round_trip_without_like(tmp_path):
    path = tmp_path / "ckpt.npz"
    fg.save(path, _tree())
    out = fg.load(path)
    assert isinstance(out["params"]["conv1"]["weight"], fg.Array)
    assert isinstance(out["opt"]["mu"]["w"], np.ndarray)  # NamedTuple -> dict of fields
    assert out["opt"]["step"] == 7 and out["opt"]["nu"] is None
    assert set(out["point"]) == {"x", "y"} and isinstance(out["point"]["x"], np.float32)
    assert out[3] == "int key" and out["empty"] == ([], {}, ())
    assert out["scalars"] == {"lr": 1e-3, "done": False, "n": 2**40, "z": 1 + 2j, "tag": "run-1"}
    assert type(out["scalars"]["done"]) is bool
    assert out["key"].dtype == np.uint32


@pytest.mark.parametrize(
    "leaf",
    [
        np.float32(3.5),
        np.arange(6, dtype=np.int64).reshape(2, 3),
        np.array([True]),
        5,
        2.5,
        True,
        np.zeros((0, 4), np.float16),
    ],
)
def test_single_leaf_round_trip(tmp_path, leaf):
    fg.save(tmp_path / "leaf", leaf)
    _assert_same(fg.load(tmp_path / "leaf"), leaf)
    _assert_same(fg.load(tmp_path / "leaf", like=leaf), leaf)


def test_resume_training_state_is_bit_identical(tmp_path):
    key = fg.random.key(0)
    params = {"w": fg.random.normal(key, (4, 3)), "b": fnp.zeros(3)}
    state = {"params": params, "step": 12, "loader": {"epoch": 3, "key": key}}
    fg.save(tmp_path / "s.npz", state)
    back = fg.load(tmp_path / "s.npz", like=state)
    grad = lambda p: fg.grad(lambda q: ((q["w"] @ fnp.ones(3)) ** 2).sum() + q["b"].sum())(p)
    a = fg.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grad(params))
    b = fg.tree_util.tree_map(lambda p, g: p - 0.1 * g, back["params"], grad(back["params"]))
    for x, y in zip(fg.tree_util.tree_leaves(a), fg.tree_util.tree_leaves(b)):
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes()


def test_like_mismatch_lists_every_problem(tmp_path):
    path = tmp_path / "ckpt.npz"
    fg.save(path, {"a": np.zeros((2, 3), np.float32), "b": np.zeros(2), "c": 1, "d": {"e": 1.0}})
    like = {"a": np.zeros((3, 2), np.float32), "c": np.zeros(2), "d": {"e": 1.0, "f": 2}, "g": 0}
    with pytest.raises(ValueError) as err:
        fg.load(path, like=like)
    msg = str(err.value)
    assert "ckpt.npz" in msg
    assert "missing entries: ['d']['f'], ['g']" in msg
    assert "unexpected entries: ['b']" in msg
    assert "['a']: expected float32[3, 2], got float32[2, 3]" in msg
    assert "['c']: expected float64[2], got int" in msg
    # dtype only
    with pytest.raises(ValueError, match=r"\['a'\]: expected float64\[2, 3\], got float32\[2, 3\]"):
        fg.load(path, like={"a": np.zeros((2, 3)), "b": np.zeros(2), "c": 1, "d": {"e": 1.0}})
    # a Python float where an int was saved
    with pytest.raises(ValueError, match=r"\['c'\]: expected float"):
        fg.load(
            path,
            like={"a": np.zeros((2, 3), np.float32), "b": np.zeros(2), "c": 1.0, "d": {"e": 1.0}},
        )


def test_unsupported_leaves_are_refused(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match=r"\['bad'\].*object array.*pickle"):
        fg.save(path, {"bad": np.array([1, "a", None], dtype=object)})
    with pytest.raises(TypeError, match=r"\['f'\] is a function"):
        fg.save(path, {"f": lambda: 0})
    with pytest.raises(TypeError, match=r"\['n'\] does not fit in 64 bits"):
        fg.save(path, {"n": 2**70})
    with pytest.raises(TypeError, match="dict keys must be str or int"):
        fg.save(path, {(1, 2): np.zeros(1)})
    assert not path.exists() and os.listdir(tmp_path) == []


def test_archive_is_plain_npz_without_pickle(tmp_path):
    path = tmp_path / "ckpt.npz"
    fg.save(path, _tree())
    with np.load(path, allow_pickle=False) as npz:
        assert "__tree__" in npz.files
        assert all(npz[name].dtype != object for name in npz.files)
    assert zipfile.is_zipfile(path)


def _crash_after_partial_write(monkeypatch):
    real = serialization._write_archive

    def partial(f, arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        f.flush()
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(serialization, "_write_archive", partial)
    return real


def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    old = {"w": np.arange(3.0)}
    fg.save(path, old)
    before = path.read_bytes()
    _crash_after_partial_write(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        fg.save(path, {"w": np.zeros(1000)})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    _assert_same(fg.load(path), old)
    # the rename itself failing is no different
    monkeypatch.undo()
    monkeypatch.setattr(
        serialization.os, "replace", lambda *a: (_ for _ in ()).throw(OSError("disk"))
    )
    with pytest.raises(OSError, match="disk"):
        fg.save(path, {"w": np.zeros(5)})
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_corrupted_and_truncated_files(tmp_path):
    path = tmp_path / "ckpt.npz"
    fg.save(path, _tree())
    data = path.read_bytes()
    cases = {
        "truncated.npz": data[: len(data) // 2],
        "empty.npz": b"",
        "garbage.npz": b"not a checkpoint at all",
    }
    # flip bytes inside the first array's data: the zip CRC check catches it
    flipped = bytearray(data)
    start = data.index(b"\x93NUMPY") + 128
    flipped[start : start + 8] = bytes(8)
    cases["flipped.npz"] = bytes(flipped)
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=rf"{name}.*not a readable funcgrad checkpoint"):
            fg.load(tmp_path / name)
        assert (tmp_path / name).read_bytes() == content  # nothing overwritten
    # a valid npz that is not a checkpoint
    np.savez(tmp_path / "plain.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="no __tree__"):
        fg.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        fg.load(tmp_path / "nope.npz")


def test_malformed_tree_description(tmp_path):
    path = tmp_path / "bad.npz"
    blob = np.frombuffer(
        b'{"format": "funcgrad-checkpoint", "version": 1, '
        b'"tree": {"kind": "dict", "children": []}}',
        np.uint8,
    )
    np.savez(path, __tree__=blob)
    with pytest.raises(ValueError, match="bad.npz.*malformed"):
        fg.load(path)
    blob = np.frombuffer(
        b'{"format": "funcgrad-checkpoint", "version": 1, '
        b'"tree": {"kind": "numpy", "leaf": "leaf_9"}}',
        np.uint8,
    )
    np.savez(path, __tree__=blob)
    with pytest.raises(ValueError, match="leaf_9.*missing"):
        fg.load(path)
    np.savez(path, __tree__=np.frombuffer(b'{"format": "x"}', np.uint8))
    with pytest.raises(ValueError, match="not a funcgrad tree"):
        fg.load(path)
