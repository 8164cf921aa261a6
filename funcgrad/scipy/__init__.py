"""funcgrad.scipy: SciPy's names over funcgrad arrays (``special``, ``stats``, ``linalg``), as
jax.scipy. Nothing here imports SciPy itself."""

from funcgrad.scipy import linalg, special, stats

__all__ = ["linalg", "special", "stats"]
