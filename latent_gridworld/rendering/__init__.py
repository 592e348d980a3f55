"""Human-facing rendering (pygame, imported lazily)."""
