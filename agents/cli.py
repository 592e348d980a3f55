"""The ``latent-gridworld`` console script: ``play``, ``generate`` and ``benchmark``.

It sits on the top floor (the ``agents`` package) because ``benchmark`` is an agents command:
the environment package never names ``agents``. Each subcommand lives in its own module and is
imported only when chosen, so ``play`` never imports torch and ``benchmark`` never imports
pygame.

    python -m agents.cli play --env ascii     # the same as ``latent-gridworld play --env ascii``
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

SUBCOMMANDS = {
    "play": ("latent_gridworld.play", "Play mazes in a pygame window."),
    "generate": ("latent_gridworld.datasets", "Write expert demonstration datasets."),
    "benchmark": ("agents.experiments.cli", "Train and evaluate paired agents; print the table."),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to ``<module>.main(argv)`` of the chosen subcommand."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print("usage: latent-gridworld {" + ",".join(SUBCOMMANDS) + "} [options]\n")
        for name, (_, help_text) in SUBCOMMANDS.items():
            print(f"  {name:<10} {help_text}")
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"unknown command {name!r}; choose one of {', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(SUBCOMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
