"""funcgrad.data: ArrayDataset and DataLoader (coverage, determinism per (key, epoch), prefetch)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.data import ArrayDataset, DataLoader, Dataset, default_collate


def _dataset(n=23):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return ArrayDataset(x, y)


def _labels(loader, epoch=None):
    batches = loader if epoch is None else loader.epoch_iter(epoch)
    return [np.asarray(yb).tolist() for _, yb in batches]


class ListDataset:
    """A plain map-style dataset of dict examples (no get_batch)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full((2,), i, np.float32), "y": i}


def test_array_dataset_indexing_and_length_check():
    ds = _dataset(5)
    assert len(ds) == 5 and isinstance(ds, Dataset)
    x0, y0 = ds[2]
    np.testing.assert_array_equal(x0, [6, 7, 8])
    assert y0 == 2
    xb, yb = ds.get_batch(np.array([4, 0]))
    np.testing.assert_array_equal(yb, [4, 0])
    with pytest.raises(ValueError, match=r"same length.*\(4, 2\).*\(3,\)"):
        ArrayDataset(np.zeros((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        ArrayDataset()


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_every_example_once_per_epoch(shuffle, drop_last):
    loader = DataLoader(_dataset(23), 5, shuffle=shuffle, key=fg.random.key(1), drop_last=drop_last)
    assert len(loader) == (4 if drop_last else 5)
    for _ in range(3):
        batches = list(loader)
        assert len(batches) == len(loader)
        xb, yb = batches[0]
        assert isinstance(xb, fg.Array) and xb.shape == (5, 3) and xb.dtype == np.float32
        assert yb.dtype == np.int64
        seen = np.concatenate([np.asarray(b[1]) for b in batches])
        if drop_last:
            assert len(seen) == 20 and len(set(seen.tolist())) == 20
            assert all(b[1].shape == (5,) for b in batches)
        else:
            assert sorted(seen.tolist()) == list(range(23))
            assert batches[-1][1].shape == (3,)
        # inputs travel with their labels
        for xb, yb in batches:
            np.testing.assert_array_equal(np.asarray(xb)[:, 0], np.asarray(yb) * 3)
    assert loader.epoch == 3


def test_order_is_a_function_of_key_and_epoch():
    make = lambda seed: DataLoader(_dataset(), 4, shuffle=True, key=fg.random.key(seed))
    a, b = make(0), make(0)
    orders = [_labels(a) for _ in range(3)]
    # a fresh loader resumed at epoch 2 sees epoch 2's order; epoch_iter does not advance
    b.set_epoch(2)
    assert _labels(b) == orders[2]
    assert b.epoch == 3
    assert _labels(make(0), epoch=1) == orders[1]
    assert orders[0] != orders[1] != orders[2]
    assert _labels(make(1), epoch=0) != orders[0]
    np.testing.assert_array_equal(a.order(1), np.concatenate(orders[1]))
    # no shuffle: dataset order every epoch
    plain = DataLoader(_dataset(), 4)
    assert (
        _labels(plain)
        == _labels(plain)
        == [list(range(i, min(i + 4, 23))) for i in range(0, 23, 4)]
    )


def test_int_seed_and_start_step():
    loader = DataLoader(_dataset(), 4, shuffle=True, key=7)
    full = _labels(loader, epoch=5)
    assert [np.asarray(b[1]).tolist() for b in loader.epoch_iter(5, start_step=2)] == full[2:]
    with pytest.raises(ValueError, match="start_step"):
        loader.epoch_iter(0, start_step=99)


@pytest.mark.parametrize("dataset", [_dataset(), ListDataset(23)])
def test_prefetch_equals_no_prefetch(dataset):
    kw = dict(shuffle=True, key=fg.random.key(3), transform=lambda x, k: x * 2)
    if isinstance(dataset, ListDataset):
        kw["transform"] = lambda b, k: {**b, "x": b["x"] + fg.random.uniform(k, b["x"].shape)}
    plain = DataLoader(dataset, 4, **kw)
    fetched = DataLoader(dataset, 4, prefetch=2, **kw)
    for epoch in range(2):
        got, want = list(fetched.epoch_iter(epoch)), list(plain.epoch_iter(epoch))
        assert len(got) == len(want) == 6
        for g, w in zip(got, want):
            for gl, wl in zip(fg.tree_util.tree_leaves(g), fg.tree_util.tree_leaves(w)):
                np.testing.assert_array_equal(np.asarray(gl), np.asarray(wl))


def test_prefetch_shuts_down_cleanly():
    before = threading.active_count()
    loader = DataLoader(_dataset(200), 2, prefetch=1)
    it = iter(loader)
    next(it)
    it.close()  # an abandoned epoch stops its thread
    for _ in loader:
        break
    assert threading.active_count() == before

    def boom(x, key):
        raise RuntimeError("bad transform")

    failing = DataLoader(_dataset(), 4, transform=boom, prefetch=1)
    with pytest.raises(RuntimeError, match="bad transform"):
        list(failing)
    assert threading.active_count() == before


def test_collate_fn_and_generic_datasets():
    loader = DataLoader(ListDataset(10), 4)
    batch = next(iter(loader))
    assert set(batch) == {"x", "y"} and batch["x"].shape == (4, 2)
    np.testing.assert_array_equal(np.asarray(batch["y"]), [0, 1, 2, 3])
    seen = []

    def collate(examples):
        seen.append(len(examples))
        return default_collate(examples)[0]  # only the inputs

    custom = DataLoader(_dataset(10), 4, collate_fn=collate)
    out = list(custom)
    assert seen == [4, 4, 2] and out[0].shape == (4, 3)
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_transform_gets_distinct_keys_and_only_inputs():
    keys = []

    def record(x, key):
        keys.append(np.asarray(key).tolist())
        return x + 1

    loader = DataLoader(_dataset(8), 4, key=fg.random.key(0), transform=record)
    batches = list(loader) + list(loader)
    assert len({tuple(k) for k in keys}) == 4
    k = fg.random.split(fg.random.key(0))[1]
    assert keys[3] == np.asarray(fg.random.fold_in(k, 1 * 2 + 1)).tolist()
    np.testing.assert_array_equal(np.asarray(batches[0][0])[:, 0], np.arange(4) * 3 + 1)
    np.testing.assert_array_equal(np.asarray(batches[0][1]), np.arange(4))  # labels untouched
    # without a key, transforms get None
    nokey = DataLoader(_dataset(8), 4, transform=lambda x, key: (x, key))
    assert next(iter(nokey))[0][1] is None


def test_loader_errors():
    ds = _dataset()
    with pytest.raises(ValueError, match="needs a key"):
        DataLoader(ds, 4, shuffle=True)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        DataLoader(ds, 0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(ds, 2.5)
    with pytest.raises(TypeError, match="__len__ and __getitem__"):
        DataLoader(object(), 2)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, 2, prefetch=-1)
    with pytest.raises(ValueError, match="epoch"):
        DataLoader(ds, 2).set_epoch(-1)
    assert "batch_size=2" in repr(DataLoader(ds, 2))
