"""``KEY=VALUE`` keyword arguments from the command line, as Python values.

A library module (the ``play`` and ``generate`` commands and the examples read ``--kw`` with
it), kept apart from the console script so that nothing in the package imports the script.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
