"""fg.config: settings, per-thread overrides as context managers."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import funcgrad as fg


def test_override_is_scoped_and_thread_local():
    seen = {}
    with fg.config(debug_nans=True):
        assert fg.config.debug_nans
        t = threading.Thread(target=lambda: seen.setdefault("other", fg.config.debug_nans))
        t.start()
        t.join()
    assert not fg.config.debug_nans and seen["other"] is False


def test_update_and_validation():
    fg.config.update("debug_nans", True)
    try:
        assert fg.config.debug_nans
    finally:
        fg.config.update("debug_nans", False)
    with pytest.raises(AttributeError, match="unknown setting"):
        fg.config.update("nope", 1)
    with pytest.raises(ValueError, match="float dtype"):
        with fg.config(default_float_dtype=np.int32):
            pass
    assert "debug_nans=False" in repr(fg.config)
