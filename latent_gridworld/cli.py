"""The ``latent-gridworld`` console script: ``play``, ``generate`` and ``benchmark``.

Each subcommand lives in its own module and is imported only when chosen, so ``play`` never
imports torch and ``benchmark`` never imports pygame.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

SUBCOMMANDS = {
    "play": ("latent_gridworld.play", "Play mazes in a pygame window."),
    "generate": ("latent_gridworld.datasets", "Write expert demonstration datasets."),
    "benchmark": ("agents.benchmark", "Train and evaluate paired agents; print the table."),
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


def parse_value(text: str) -> Any:
    """A ``--kw`` value: ``true``/``false``, ``none``, an int, a float, or else the string.

    >>> [parse_value(v) for v in ("15", "true", "0.25", "None", "latent")]
    [15, True, 0.25, None, 'latent']
    """
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_kwargs(items: Sequence[str]) -> dict[str, Any]:
    """``["size=15", "full_view=true"]`` -> ``{"size": 15, "full_view": True}``.

    Raises:
        ValueError: an item is not ``KEY=VALUE``, or a key is repeated.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--kw expects KEY=VALUE (e.g. size=15), got {item!r}")
        if key in out:
            raise ValueError(f"--kw {key} given twice")
        out[key] = parse_value(value)
    return out


if __name__ == "__main__":
    raise SystemExit(main())
