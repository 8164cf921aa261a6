import os

import pytest
from hypothesis import HealthCheck, settings

from tests.backends import BACKENDS, use_backend

# The suite runs on the CPU, also where CuPy finds a GPU (which would be the default device);
# the tests taking the ``backend`` fixture run on each backend, GPUs included.
os.environ.setdefault("FUNCGRAD_PLATFORM", "cpu")

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture(params=BACKENDS)
def backend(request):
    """Runs the test on each backend: "cpu", "gpu" (real CuPy; skipped without a GPU) and
    "fake-gpu" (a NumPy-backed CuPy double with 2 devices, always run). Yields the name."""
    with use_backend(request.param) as name:
        yield name
