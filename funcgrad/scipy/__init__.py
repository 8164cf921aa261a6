"""funcgrad.scipy: SciPy's names over funcgrad arrays (``funcgrad.scipy.special``), as jax.scipy."""

from funcgrad.scipy import special

__all__ = ["special"]
