"""funcgrad.data.transforms against NumPy references: flips, crops, rotations, Normalize."""

from __future__ import annotations

import numpy as np
import pytest

import funcgrad as fg
from funcgrad.data.transforms import (
    Compose,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
    RandomRotation,
    ToFloat,
)


def _images(n=16, c=3, h=7, w=9, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w)).astype(np.float32)


def test_to_float():
    x = np.array([0, 1, 128, 255], np.uint8).reshape(1, 1, 2, 2)
    y = ToFloat()(x, None)
    assert y.dtype == np.float32
    np.testing.assert_allclose(np.asarray(y), x / np.float32(255), rtol=1e-7)
    z = _images(2)
    assert ToFloat()(z) is not None and np.array_equal(np.asarray(ToFloat()(z)), z)
    with pytest.raises(TypeError, match="ToFloat: expected a uint8"):
        ToFloat()(np.zeros((1, 1, 2, 2), np.int32))


def test_normalize_per_channel():
    x = _images(4, c=3)
    mean, std = [0.5, -1.0, 2.0], [0.25, 2.0, 4.0]
    y = Normalize(mean, std)(x, None)
    ref = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(np.asarray(y), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(np.asarray(Normalize(0.5, 2.0)(x)), (x - 0.5) / 2, rtol=1e-6)
    with pytest.raises(ValueError, match="2 values for 3 channels"):
        Normalize([0.0, 0.0], [1.0, 1.0])(x)
    with pytest.raises(ValueError, match="nonzero"):
        Normalize(0.0, [1.0, 0.0])


def test_horizontal_flip_exact():
    x = _images(64)
    y = np.asarray(RandomHorizontalFlip(0.5)(x, fg.random.key(0)))
    flipped = np.array([np.array_equal(y[i], x[i, :, :, ::-1]) for i in range(len(x))])
    kept = np.array([np.array_equal(y[i], x[i]) for i in range(len(x))])
    assert np.all(flipped ^ kept)  # each example is exactly one of the two
    assert 16 < flipped.sum() < 48
    np.testing.assert_array_equal(
        np.asarray(RandomHorizontalFlip(1.0)(x, fg.random.key(1))), x[..., ::-1]
    )
    np.testing.assert_array_equal(np.asarray(RandomHorizontalFlip(0.0)(x, fg.random.key(1))), x)
    again = np.asarray(RandomHorizontalFlip(0.5)(x, fg.random.key(0)))
    np.testing.assert_array_equal(again, y)  # deterministic given the key


def test_random_crop_exact():
    x = _images(32, h=7, w=9)
    pad = 2
    y = np.asarray(RandomCrop((6, 8), padding=pad)(x, fg.random.key(0)))
    assert y.shape == (32, 3, 6, 8)
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    offsets = []
    for i in range(len(x)):
        hits = [
            (t, l)
            for t in range(padded.shape[2] - 6 + 1)
            for l in range(padded.shape[3] - 8 + 1)
            if np.array_equal(y[i], padded[i, :, t : t + 6, l : l + 8])
        ]
        assert hits, f"example {i} is not a window of its padded image"
        offsets.append(hits[0])
    assert len(set(offsets)) > 5  # per-example offsets
    np.testing.assert_array_equal(np.asarray(RandomCrop((7, 9))(x, fg.random.key(3))), x)
    np.testing.assert_array_equal(np.asarray(RandomCrop((6, 8), 2)(x, fg.random.key(0))), y)
    with pytest.raises(ValueError, match="larger than the padded image"):
        RandomCrop(12, padding=1)(x, fg.random.key(0))


def test_random_crop_uint8():
    x = np.arange(2 * 1 * 4 * 4, dtype=np.uint8).reshape(2, 1, 4, 4)
    y = RandomCrop(4, padding=1)(x, fg.random.key(0))
    assert y.dtype == np.uint8 and y.shape == x.shape


def test_rotation_90_equals_rot90():
    x = _images(4, h=8, w=8)
    y = np.asarray(RandomRotation((90, 90))(x, fg.random.key(0)))
    ref = np.rot90(x, 1, axes=(2, 3))
    np.testing.assert_allclose(y[:, :, 1:-1, 1:-1], ref[:, :, 1:-1, 1:-1], atol=1e-5)
    y = np.asarray(RandomRotation((-90, -90))(x, fg.random.key(0)))
    np.testing.assert_allclose(
        y[:, :, 1:-1, 1:-1], np.rot90(x, -1, axes=(2, 3))[:, :, 1:-1, 1:-1], atol=1e-5
    )
    np.testing.assert_allclose(np.asarray(RandomRotation(0)(x, fg.random.key(0))), x, atol=1e-6)


def _rotate_reference(img, degrees):
    # Bilinear rotation of one (C, H, W) image about its centre with zero fill, per pixel.
    c, h, w = img.shape
    t = np.deg2rad(degrees)
    ci, cj = (h - 1) / 2, (w - 1) / 2
    out = np.zeros_like(img, dtype=np.float64)
    for i in range(h):
        for j in range(w):
            si = ci + (i - ci) * np.cos(t) + (j - cj) * np.sin(t)
            sj = cj + (j - cj) * np.cos(t) - (i - ci) * np.sin(t)
            i0, j0 = int(np.floor(si)), int(np.floor(sj))
            for a in (0, 1):
                for b in (0, 1):
                    ii, jj = i0 + a, j0 + b
                    wgt = (si - i0 if a else 1 - (si - i0)) * (sj - j0 if b else 1 - (sj - j0))
                    if 0 <= ii < h and 0 <= jj < w:
                        out[:, i, j] += wgt * img[:, ii, jj]
    return out


def test_rotation_matches_bilinear_reference_per_example():
    x = _images(3, c=2, h=6, w=5)
    for deg in (30.0, -45.0):
        y = np.asarray(RandomRotation((deg, deg))(x, fg.random.key(0)))
        for i in range(3):
            np.testing.assert_allclose(y[i], _rotate_reference(x[i], deg), atol=1e-4)
    # per-example angles: random angles differ across the batch
    same = np.repeat(x[:1], 8, axis=0)
    y = np.asarray(RandomRotation(30)(same, fg.random.key(2)))
    assert len({y[i].tobytes() for i in range(8)}) == 8
    # zero fill: a constant image rotated by 45 degrees has zeros in its corners
    ones = np.ones((1, 1, 9, 9), np.float32)
    r = np.asarray(RandomRotation((45, 45))(ones, fg.random.key(0)))
    assert r[0, 0, 0, 0] == 0 and abs(r[0, 0, 4, 4] - 1) < 1e-6


def test_compose_and_determinism():
    x = (np.random.default_rng(0).integers(0, 256, (8, 3, 10, 10))).astype(np.uint8)
    aug = Compose(
        [
            ToFloat(),
            RandomCrop(8, padding=1),
            RandomHorizontalFlip(),
            RandomRotation(10),
            Normalize([0.5] * 3, [0.25] * 3),
        ]
    )
    a = np.asarray(aug(x, fg.random.key(0)))
    b = np.asarray(aug(x, fg.random.key(0)))
    c = np.asarray(aug(x, fg.random.key(1)))
    assert a.shape == (8, 3, 8, 8) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert "RandomCrop" in repr(aug)
    det = Compose([ToFloat(), Normalize(0.5, 0.5)])
    np.testing.assert_allclose(np.asarray(det(x)), (x / np.float32(255) - 0.5) / 0.5, atol=1e-6)


def test_transform_errors():
    with pytest.raises(ValueError, match="needs a key"):
        RandomCrop(4)(_images(1), None)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        RandomHorizontalFlip()(np.zeros((3, 4, 4), np.float32), fg.random.key(0))
    with pytest.raises(TypeError, match="apply ToFloat first"):
        RandomRotation(10)(np.zeros((1, 1, 4, 4), np.uint8), fg.random.key(0))
    with pytest.raises(ValueError, match="p must be in"):
        RandomHorizontalFlip(1.5)
    with pytest.raises(ValueError, match="padding"):
        RandomCrop(4, padding=-1)


def test_transforms_in_a_loader_are_deterministic_per_epoch():
    from funcgrad.data import ArrayDataset, DataLoader

    x = (np.random.default_rng(1).integers(0, 256, (10, 1, 8, 8))).astype(np.uint8)
    y = np.arange(10)
    aug = Compose([ToFloat(), RandomCrop(8, padding=2), RandomHorizontalFlip()])
    loader = DataLoader(ArrayDataset(x, y), 4, shuffle=True, key=fg.random.key(0), transform=aug)
    first = [np.asarray(b[0]) for b in loader.epoch_iter(0)]
    again = [np.asarray(b[0]) for b in loader.epoch_iter(0)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert first[0].dtype == np.float32 and first[0].shape == (4, 1, 8, 8)
