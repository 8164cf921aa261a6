"""Dataset readers: MNIST and Fashion-MNIST (IDX files, optional verified download), digits."""

from __future__ import annotations

import gzip
import hashlib
import os
import tempfile
import zlib
from typing import Any

import numpy as np

from funcgrad import random

__all__ = ["digits", "download_url", "fashion_mnist", "mnist", "read_idx", "train_test_split"]

_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_FASHION_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
# Mirrors are tried in order; every file is checked against its published MD5.
_RESOURCES: dict[str, dict[str, Any]] = {
    "mnist": {
        "mirrors": [
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "http://yann.lecun.com/exdb/mnist/",
        ],
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion_mnist": {
        "mirrors": [
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        "md5": _FASHION_MD5,
    },
}

# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IMAGES_MAGIC, _LABELS_MAGIC = 2051, 2049


def _urlopen(url, timeout):
    """urllib's urlopen, imported on first use (module-level so tests can stand in for it)."""
    import urllib.request

    return urllib.request.urlopen(url, timeout=timeout)


# --------------------------------------------------------------------------------------------
# IDX files


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(
                f"read_idx: {path!r} is not a valid gzip file (truncated?): {e}"
            ) from e
    return data


def read_idx(path: str | os.PathLike, magic: int | None = None) -> np.ndarray:
    """Reads an IDX file (the MNIST format), gzipped when its name ends in ``.gz``.

    Args:
      path: the file.
      magic: the expected magic number (2051 for MNIST images, 2049 for labels), or None.

    Returns:
      A NumPy array of the header's shape, in native byte order.

    Raises:
      ValueError: naming the file, when the magic number is wrong or the data size disagrees with
        the header.

    Example:
      >>> read_idx("train-labels-idx1-ubyte.gz", magic=2049).shape
      (60000,)
    """
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"read_idx: {path!r} is too short ({len(data)} bytes) to be an IDX file")
    found = int.from_bytes(data[:4], "big")
    if magic is not None and found != magic:
        raise ValueError(
            f"read_idx: {path!r} has magic number {found}, expected {magic} "
            f"({'images' if magic == _IMAGES_MAGIC else 'labels'} file); is it the right file?"
        )
    code, ndim = data[2], data[3]
    if data[0] != 0 or data[1] != 0 or code not in _IDX_DTYPES:
        raise ValueError(f"read_idx: {path!r} has magic number {found}, which is not IDX")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"read_idx: {path!r} is truncated: {len(data)} bytes, but a {ndim}-d header needs "
            f"{header}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        state = "truncated" if len(data) < expected else "too long"
        raise ValueError(
            f"read_idx: {path!r} has {len(data)} bytes, but its header (shape {shape}, "
            f"{dtype.name}) says {expected}: the file is {state}"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find(root: str, name: str) -> str | None:
    for candidate in (name, name + ".gz"):
        path = os.path.join(root, candidate)
        if os.path.exists(path):
            return path
    return None


def _load_idx_pair(which: str, root: str | os.PathLike, split: str, download: bool):
    if split not in _SPLITS:
        raise ValueError(f"{which}: split must be 'train' or 'test', got {split!r}")
    root = os.fspath(root)
    paths = []
    for name in _SPLITS[split]:
        path = _find(root, name)
        if path is None and download:
            os.makedirs(root, exist_ok=True)
            path = os.path.join(root, name + ".gz")
            res = _RESOURCES[which]
            _download_mirrors(res["mirrors"], name + ".gz", path, res["md5"][name + ".gz"])
        if path is None:
            raise FileNotFoundError(
                f"{which}: {name} (or {name}.gz) not found in {root!r}; pass download=True to "
                "fetch it"
            )
        paths.append(path)
    images = read_idx(paths[0], magic=_IMAGES_MAGIC)
    labels = read_idx(paths[1], magic=_LABELS_MAGIC)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{which}: {paths[0]!r} holds images of shape {images.shape} but {paths[1]!r} holds "
            f"labels of shape {labels.shape}; expected (N, H, W) and (N,)"
        )
    return images[:, None], labels.astype(np.int64)


def mnist(root: str | os.PathLike, split: str = "train", download: bool = False):
    """MNIST from the standard IDX files in ``root`` (gzipped or not).

    Args:
      root: the directory holding ``train-images-idx3-ubyte(.gz)`` and the other files.
      split: ``'train'`` (60,000 examples) or ``'test'`` (10,000).
      download: fetch missing files from the standard mirrors (checked against their MD5).

    Returns:
      ``(images, labels)`` as NumPy arrays: ``uint8[N, 1, 28, 28]`` and ``int64[N]``. Use
      ``transforms.ToFloat`` to get floats in [0, 1].

    Example:
      >>> x, y = mnist("~/data/mnist", "test", download=True)
      >>> loader = DataLoader(ArrayDataset(x, y), 128, transform=ToFloat())
    """
    return _load_idx_pair("mnist", os.path.expanduser(os.fspath(root)), split, download)


def fashion_mnist(root: str | os.PathLike, split: str = "train", download: bool = False):
    """Fashion-MNIST from its IDX files in ``root``; same interface and layout as ``mnist``."""
    return _load_idx_pair("fashion_mnist", os.path.expanduser(os.fspath(root)), split, download)


# --------------------------------------------------------------------------------------------
# Downloads


def download_url(
    url: str, path: str | os.PathLike, md5: str | None = None, sha256: str | None = None
) -> str:
    """Downloads ``url`` to ``path`` atomically, verifying an MD5 or SHA-256 checksum.

    The data is streamed to a temporary file next to ``path`` and renamed over it only when the
    checksum matches; on any failure ``path`` is left as it was.

    Raises:
      ValueError: the checksum does not match.
      OSError: the download failed.

    Example:
      >>> download_url("https://example.org/f.gz", "f.gz", sha256="9f86d0...")
    """
    path = os.fspath(path)
    digest = hashlib.sha256() if sha256 else hashlib.md5(usedforsecurity=False)
    expected = (sha256 or md5 or "").lower()
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f, _urlopen(url, timeout=60) as response:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        if expected and digest.hexdigest() != expected:
            kind = "sha256" if sha256 else "md5"
            raise ValueError(
                f"download_url: checksum mismatch for {url}: expected {kind} {expected}, got "
                f"{digest.hexdigest()} (corrupted download or wrong file)"
            )
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def _download_mirrors(mirrors: list[str], name: str, path: str, md5: str) -> None:
    failures = []
    for mirror in mirrors:
        try:
            download_url(mirror + name, path, md5=md5)
            return
        except (OSError, ValueError) as e:  # URLError is an OSError
            failures.append(f"{mirror + name}: {e}")
    raise OSError(f"could not download {name} from any mirror:\n  " + "\n  ".join(failures))


# --------------------------------------------------------------------------------------------
# scikit-learn's digits


def digits():
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images; no network needed).

    Needs scikit-learn, the optional extra ``funcgrad[data]``.

    Returns:
      ``(images, labels)`` as NumPy arrays: ``float32[1797, 1, 8, 8]`` in [0, 1] and
      ``int64[1797]``.

    Example:
      >>> x, y = digits()
      >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:
        raise ImportError(
            "datasets.digits needs scikit-learn, an optional extra: "
            "pip install 'funcgrad[data]' (or pip install scikit-learn)"
        ) from e
    d = load_digits()
    images = (np.asarray(d.images, dtype=np.float64) / 16.0).astype(np.float32)[:, None]
    return images, np.asarray(d.target, dtype=np.int64)


def train_test_split(*arrays: Any, test_size: float | int = 0.2, key: Any = None) -> list[Any]:
    """Splits arrays along their first axis into a shuffled train and test part, deterministically.

    Args:
      *arrays: arrays of the same length.
      test_size: a fraction in (0, 1) or a number of test examples.
      key: a PRNG key for the shuffle (default ``random.key(0)``).

    Returns:
      ``[a_train, a_test, b_train, b_test, ...]``, as scikit-learn's ``train_test_split``.

    Example:
      >>> x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2)
    """
    if not arrays:
        raise ValueError("train_test_split: give at least one array")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(
            f"train_test_split: arrays have different lengths {[len(a) for a in arrays]}"
        )
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(
                f"train_test_split: a fractional test_size must be in (0, 1), got {test_size}"
            )
        n_test = int(round(test_size * n))
    else:
        n_test = int(test_size)
    if not 0 <= n_test <= n:
        raise ValueError(f"train_test_split: test_size {test_size} does not fit {n} examples")
    order = np.asarray(random.permutation(random.key(0) if key is None else key, n))
    test, train = order[:n_test], order[n_test:]
    out = []
    for a in arrays:
        out += [a[train], a[test]]
    return out
