"""Cell codes, actions and their lookup tables: the vocabulary shared by every encoder.

A world cell is stored as a small integer *cell code*. Encoders (ASCII, pixels) and the
episodic memory all speak cell codes, so the world logic never needs to know about characters
or colours.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Action(IntEnum):
    """Allocentric moves (``Discrete(4)``). Moving into a wall leaves the agent in place."""

    NORTH = 0
    EAST = 1
    SOUTH = 2
    WEST = 3


# (row, col) displacement per action, indexed by ``Action``.
ACTION_DELTAS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)
N_ACTIONS = len(Action)


class Cell(IntEnum):
    """Cell codes below ``OBJECT_BASE``; object type ``t`` has code ``OBJECT_BASE + t``."""

    FLOOR = 0
    WALL = 1
    AGENT = 2


OBJECT_BASE = 3
# Letters name object types in text and in docs; 26 is therefore the hard upper bound.
OBJECT_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MAX_OBJECT_TYPES = len(OBJECT_LETTERS)
N_CELL_CODES = OBJECT_BASE + MAX_OBJECT_TYPES

WALL_CHAR = "#"
FLOOR_CHAR = "."
AGENT_CHAR = "@"

# cell code -> ASCII byte; the inverse table maps unknown bytes to 255 (caught by decoders).
CODE_TO_ASCII = np.frombuffer(
    (FLOOR_CHAR + WALL_CHAR + AGENT_CHAR + OBJECT_LETTERS).encode("ascii"), dtype=np.uint8
).copy()
ASCII_TO_CODE = np.full(256, 255, dtype=np.uint8)
ASCII_TO_CODE[CODE_TO_ASCII] = np.arange(N_CELL_CODES, dtype=np.uint8)

SPLITS = ("train", "explicit", "latent", "new_maze")


def object_letter(object_type: int) -> str:
    """The letter that names ``object_type`` (0 -> ``"A"``)."""
    return OBJECT_LETTERS[object_type]
