"""funcgrad.scipy.stats: probability distributions (``stats.norm``), as ``jax.scipy.stats``."""

from funcgrad.scipy.stats import norm

__all__ = ["norm"]
