"""The benchmark's old module name: ``python -m agents.benchmark`` still runs it.

The benchmark lives in :mod:`agents.experiments` now (``latent-gridworld benchmark`` calls
:func:`agents.experiments.cli.main`); this module only keeps the old command working.
"""

from __future__ import annotations

from agents.experiments.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
