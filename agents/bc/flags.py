"""Command-line flags generated from a dataclass: one per field, help from its docstring.

Its own module so that the training script's command line and the config's documentation are
one text: a field added to :class:`agents.bc.config.TrainConfig` (or to one of its parts) gets
its flag and its help without anyone writing them twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Collection
from typing import Any

# a field's annotation (a string: the modules use postponed annotations) -> its flag's parser
_PARSERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> its text in the class docstring's ``Attributes:`` section (one line).

    >>> from agents.bc.model import ModelShape
    >>> attribute_docs(ModelShape)["n_heads"]
    'Attention heads.'
    """
    lines = (cls.__doc__ or "").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Attributes:"), None)
    if start is None:
        return {}
    docs: dict[str, list[str]] = {}
    indent = None
    for line in lines[start + 1 :]:
        if not line.strip():
            continue
        here = len(line) - len(line.lstrip())
        if indent is None:
            indent = here
        if here < indent:  # the section is over
            break
        match = re.match(r"(\w+): (.*)", line.strip())
        if here == indent and match:
            docs[match.group(1)] = [match.group(2)]
        elif docs:
            docs[next(reversed(docs))].append(line.strip())
    return {name: " ".join(parts) for name, parts in docs.items()}


def add_field_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    defaults: Any,
    prefix: str = "",
    skip: Collection[str] = (),
) -> None:
    """A ``--<prefix><field>`` flag per field of the dataclass instance ``defaults``.

    A flag given sets ``<prefix><field>`` in the parsed namespace; one left out is absent
    (``argparse.SUPPRESS``), so only what the command line says changes a config. Bools are
    ``--flag/--no-flag``; ``X | None`` fields take ``none``; pairs take two values. A name with
    ``_`` also answers to its ``-`` spelling (``--batch-size``, the flags' older form).
    """
    docs = attribute_docs(type(defaults))
    for f in dataclasses.fields(defaults):
        if f.name in skip or not f.init:
            continue
        default = getattr(defaults, f.name)
        flags = [f"--{prefix}{f.name}"]
        if "_" in f.name:
            flags.append(f"--{prefix}{f.name.replace('_', '-')}")
        # argparse formats help with %: the docstrings' "10%" must stay text
        text = docs.get(f.name, "").replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": prefix + f.name, "default": argparse.SUPPRESS}
        kind = str(f.type)
        if kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif kind in _PARSERS:
            kwargs.update(type=_PARSERS[kind], metavar=kind.upper())
        elif kind.endswith(" | None") and kind[: -len(" | None")] in _PARSERS:
            base = kind[: -len(" | None")]
            kwargs.update(type=_optional(_PARSERS[base]), metavar=f"{base.upper()}|none")
        elif kind == "tuple[int, int]":
            kwargs.update(type=int, nargs=2, metavar=("MIN", "MAX"))
        else:
            raise TypeError(f"no flag for {prefix}{f.name} of type {kind!r}")
        parser.add_argument(*flags, help=f"{text} (default: {default!r})".lstrip(), **kwargs)


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() in ("none", "null") else kind(text)

    parse.__name__ = kind.__name__  # argparse names the type in its error message
    return parse
