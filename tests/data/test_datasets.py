"""funcgrad.data.datasets: IDX reading and validation, verified downloads (local only), digits."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import sys

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.data import datasets


def _idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) if magic is None else magic.to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write(path, data: bytes, gz: bool):
    if gz:
        data = gzip.compress(data)
        path = str(path) + ".gz"
    with open(path, "wb") as f:
        f.write(data)
    return str(path)


def _fake_mnist(root, split="train", n=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    img_name, lbl_name = datasets._SPLITS[split]
    _write(os.path.join(root, img_name), _idx_bytes(images), gz)
    _write(os.path.join(root, lbl_name), _idx_bytes(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("reader", [datasets.mnist, datasets.fashion_mnist])
def test_mnist_reads_idx_files(tmp_path, gz, reader):
    images, labels = _fake_mnist(tmp_path, "test", n=7, gz=gz)
    x, y = reader(tmp_path, split="test")
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.uint8
    assert y.shape == (7,) and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(y, labels)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*download=True"):
        reader(tmp_path, split="train")
    with pytest.raises(ValueError, match="split must be"):
        reader(tmp_path, split="val")


def test_read_idx_dtypes_and_byte_order(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5
    path = _write(tmp_path / "f", _idx_bytes(a), gz=False)
    out = datasets.read_idx(path)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, a)
    b = np.array([-7, 70000], dtype=np.int32)
    np.testing.assert_array_equal(datasets.read_idx(_write(tmp_path / "g", _idx_bytes(b), True)), b)


def test_idx_validation_errors_name_the_file(tmp_path):
    imgs = np.zeros((4, 28, 28), np.uint8)
    # labels file given where images belong: wrong magic
    path = _write(tmp_path / "train-images-idx3-ubyte", _idx_bytes(np.zeros(4, np.uint8)), False)
    with pytest.raises(
        ValueError, match=r"train-images-idx3-ubyte.*magic number 2049, expected 2051"
    ):
        datasets.read_idx(path, magic=2051)
    bad = _write(tmp_path / "bad", _idx_bytes(imgs, magic=1234), False)
    with pytest.raises(ValueError, match="bad.*magic number 1234"):
        datasets.read_idx(bad, magic=2051)
    # truncated data, extra bytes, truncated header, truncated gzip
    full = _idx_bytes(imgs)
    trunc = _write(tmp_path / "trunc", full[:-10], False)
    with pytest.raises(ValueError, match=r"trunc.*header \(shape \(4, 28, 28\).*truncated"):
        datasets.read_idx(trunc, magic=2051)
    long = _write(tmp_path / "long", full + b"\0", False)
    with pytest.raises(ValueError, match="long.*too long"):
        datasets.read_idx(long)
    short = _write(tmp_path / "short", full[:9], False)
    with pytest.raises(ValueError, match="short.*truncated"):
        datasets.read_idx(short)
    gzpath = tmp_path / "cut.gz"
    gzpath.write_bytes(gzip.compress(full)[:-20])
    with pytest.raises(ValueError, match="cut.gz.*gzip"):
        datasets.read_idx(gzpath)
    # images and labels that disagree on N
    _fake_mnist(tmp_path, "test", n=3)
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx_bytes(np.zeros(5, np.uint8)), False)
    with pytest.raises(ValueError, match=r"t10k-images.*\(3, 28, 28\).*t10k-labels.*\(5,\)"):
        datasets.mnist(tmp_path, "test")


def _mirror(tmp_path, monkeypatch, corrupt=False):
    """A local file:// mirror with the 'test' split, registered as the only MNIST mirror."""
    src = tmp_path / "mirror"
    src.mkdir()
    images, labels = _fake_mnist(src, "test", n=4, gz=True)
    md5 = {
        name: hashlib.md5((src / name).read_bytes()).hexdigest()
        for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    }
    if corrupt:
        md5["t10k-images-idx3-ubyte.gz"] = "0" * 32
    resources = {"mnist": {"mirrors": [src.as_uri() + "/"], "md5": md5}}
    monkeypatch.setattr(datasets, "_RESOURCES", resources)
    return images, labels


def test_download_from_local_mirror_verifies_md5(tmp_path, monkeypatch):
    images, labels = _mirror(tmp_path, monkeypatch)
    root = tmp_path / "data"
    x, y = datasets.mnist(root, "test", download=True)
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(y, labels)
    assert sorted(os.listdir(root)) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    # present files are not fetched again
    monkeypatch.setattr(datasets, "_urlopen", lambda *a, **k: pytest.fail("refetched"))
    datasets.mnist(root, "test", download=True)


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    _mirror(tmp_path, monkeypatch, corrupt=True)
    root = tmp_path / "data"
    with pytest.raises(OSError, match=r"(?s)t10k-images-idx3-ubyte.gz.*checksum mismatch"):
        datasets.mnist(root, "test", download=True)
    assert os.listdir(root) == []  # no partial or unverified file


def test_download_url_sha256_and_atomicity(tmp_path, monkeypatch):
    payload = b"funcgrad" * 1000
    src = tmp_path / "payload.bin"
    src.write_bytes(payload)
    dest = tmp_path / "out" / "payload.bin"
    dest.parent.mkdir()
    good = hashlib.sha256(payload).hexdigest()
    datasets.download_url(src.as_uri(), dest, sha256=good)
    assert dest.read_bytes() == payload
    # a failing download keeps the previous file and leaves no temporary file
    with pytest.raises(ValueError, match="sha256"):
        datasets.download_url(src.as_uri(), dest, sha256="f" * 64)

    class Broken:
        def __init__(self, *a, **k):
            self.sent = False

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            if self.sent:
                raise ConnectionResetError("connection dropped")
            self.sent = True
            return b"partial"

    monkeypatch.setattr(datasets, "_urlopen", Broken)
    with pytest.raises(ConnectionResetError):
        datasets.download_url("https://example.invalid/x", dest, md5="0" * 32)
    assert dest.read_bytes() == payload
    assert os.listdir(dest.parent) == ["payload.bin"]


def test_download_tries_mirrors_in_order(tmp_path, monkeypatch):
    images, _ = _mirror(tmp_path, monkeypatch)
    res = datasets._RESOURCES["mnist"]
    res["mirrors"] = [(tmp_path / "missing").as_uri() + "/", *res["mirrors"]]
    x, _ = datasets.mnist(tmp_path / "data", "test", download=True)
    np.testing.assert_array_equal(x[:, 0], images)


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")
def test_digits():
    x, y = datasets.digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y).tolist()) == set(range(10))
    x_tr, x_te, y_tr, y_te = datasets.train_test_split(x, y, test_size=0.2)
    assert len(x_te) == 359 and len(x_tr) == 1797 - 359 and len(y_te) == 359
    again = datasets.train_test_split(x, y, test_size=0.2)
    np.testing.assert_array_equal(again[3], y_te)
    other = datasets.train_test_split(x, y, test_size=0.2, key=fg.random.key(1))
    assert not np.array_equal(other[3], y_te)
    # the split is a partition: pairs stay aligned and no example is lost
    assert sorted(map(bytes, np.concatenate([x_tr, x_te]).reshape(1797, -1))) == sorted(
        map(bytes, x.reshape(1797, -1))
    )


def test_digits_without_sklearn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"funcgrad\[data\]"):
        datasets.digits()


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="different lengths"):
        datasets.train_test_split(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        datasets.train_test_split(np.zeros(3), test_size=1.5)
    a_tr, a_te = datasets.train_test_split(np.arange(10), test_size=3)
    assert len(a_te) == 3 and sorted(np.concatenate([a_tr, a_te]).tolist()) == list(range(10))
