"""ASCII encoding of views, text rendering, and the fixed tokenizer for sequence models.

One character per cell: ``#`` wall, ``.`` floor, ``@`` agent, ``A``-``Z`` objects. An ASCII
observation is the view flattened to a 1-D uint8 array of those ASCII codes (SB3 and
shared-memory vector envs accept it; SB3 warns about 2-D non-image boxes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from latent_gridworld.core.constants import (
    ASCII_TO_CODE,
    CODE_TO_ASCII,
    N_ACTIONS,
    OBJECT_LETTERS,
    Action,
    object_letter,
)

# Bounds of the observation space's ``view``. The values are printable cell characters (35..90),
# but the space starts at 0: clients fill placeholders with zeros (TorchRL's ``final``
# observation with SAME_STEP autoreset, zero-initialised buffers), which must stay inside it.
ASCII_LOW, ASCII_HIGH = 0, 126


def codes_to_ascii(codes: np.ndarray) -> np.ndarray:
    """Cell codes (any shape) to uint8 ASCII codes of the same shape."""
    return CODE_TO_ASCII[codes]


def ascii_to_codes(ascii_view: np.ndarray) -> np.ndarray:
    """Inverse of :func:`codes_to_ascii`; ValueError on a byte that names no cell."""
    codes = ASCII_TO_CODE[np.asarray(ascii_view, dtype=np.uint8)]
    if (codes == 255).any():
        bad = sorted({chr(b) for b in np.asarray(ascii_view)[codes == 255].ravel()})
        raise ValueError(f"not a cell character: {bad}; valid: '#', '.', '@', 'A'-'Z'")
    return codes


def grid_to_text(grid: np.ndarray) -> str:
    r"""A 2-D array of ASCII codes (or a square flattened one) as lines of text.

    >>> grid_to_text(np.frombuffer(b"#.@A", dtype=np.uint8))
    '#.\n@A'
    """
    grid = np.asarray(grid, dtype=np.uint8)
    if grid.ndim == 1:
        side = int(round(len(grid) ** 0.5))
        if side * side != len(grid):
            raise ValueError(f"a flat view must have a square length, got {len(grid)}")
        grid = grid.reshape(side, side)
    return "\n".join(row.tobytes().decode("ascii") for row in grid)


def observation_to_text(obs: Mapping[str, np.ndarray] | np.ndarray) -> str:
    """An ASCII-env observation (or its ``"view"``) as readable text, goal and cues included.

    >>> import gymnasium as gym
    >>> import latent_gridworld
    >>> env = gym.make("LatentGridworld/ASCII-v0")
    >>> obs, info = env.reset(seed=0)
    >>> print(observation_to_text(obs))
    #####
    #####
    #.@D.
    #####
    #....
    goal: H
    """
    if not isinstance(obs, Mapping):
        return grid_to_text(obs)
    lines = [grid_to_text(obs["view"]), f"goal: {object_letter(int(obs['goal']))}"]
    if "maze" in obs:
        lines.append(f"maze: {int(obs['maze'])}")
    if "position" in obs:
        r, c = (int(x) for x in obs["position"])
        lines.append(f"position: {r} {c}")
    return "\n".join(lines)


class Tokenizer:
    """A fixed vocabulary for sequence models over the ASCII stream.

    The vocabulary does not depend on the env configuration, so checkpoints and datasets stay
    comparable across mazes, view sizes and object counts. Per step a model reads the view's
    cells, then the goal, then the previous action (``<start>`` at the first step).

    Tokens: ``<pad>``, ``<bos>``, ``<eos>``, ``<sep>`` (ends a step), ``<start>`` (no previous
    action), ``<goal>``, ``<mem>`` (opens a retrieved episode), the cell characters, the
    four action names, and ``<maze:i>``/``<row:i>``/``<col:i>`` cue tokens.

    >>> tok = Tokenizer()
    >>> tok.decode(tok.encode_step(np.frombuffer(b"#.@", dtype=np.uint8), goal=2, prev_action=None))
    ['#', '.', '@', '<goal>', 'C', '<start>', '<sep>']
    """

    SPECIALS = ("<pad>", "<bos>", "<eos>", "<sep>", "<start>", "<goal>", "<mem>")
    MAX_MAZE_CUE = 4096
    MAX_COORD = 64

    def __init__(self) -> None:
        cells = [chr(b) for b in CODE_TO_ASCII]
        actions = [a.name for a in Action]
        self.itos: list[str] = [
            *self.SPECIALS,
            *cells,
            *actions,
            *(f"<maze:{i}>" for i in range(self.MAX_MAZE_CUE + 1)),
            *(f"<row:{i}>" for i in range(self.MAX_COORD)),
            *(f"<col:{i}>" for i in range(self.MAX_COORD)),
        ]
        self.stoi: dict[str, int] = {s: i for i, s in enumerate(self.itos)}
        self.pad, self.bos, self.eos, self.sep, self.start, self.goal_marker, self.mem = (
            self.stoi[s] for s in self.SPECIALS
        )
        # ASCII byte -> token id, for vectorised encoding of whole views
        self.byte_to_token = np.full(256, -1, dtype=np.int64)
        for b in CODE_TO_ASCII:
            self.byte_to_token[b] = self.stoi[chr(b)]
        self.action_tokens = np.array([self.stoi[a.name] for a in Action], dtype=np.int64)
        self.object_tokens = np.array([self.stoi[ch] for ch in OBJECT_LETTERS], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.itos)

    def view_tokens(self, view: np.ndarray) -> np.ndarray:
        """Token ids of an ASCII view (any shape, flattened row-major)."""
        ids = self.byte_to_token[np.asarray(view, dtype=np.uint8).ravel()]
        if (ids < 0).any():
            raise ValueError("view holds bytes that are not cell characters")
        return ids

    def encode_step(
        self,
        view: np.ndarray,
        goal: int,
        prev_action: int | None,
        maze: int | None = None,
        position: Sequence[int] | None = None,
    ) -> list[int]:
        """Tokens of one step: view cells, ``<goal>`` + goal letter, previous action, cues."""
        if prev_action is not None and not 0 <= prev_action < N_ACTIONS:
            raise ValueError(
                f"prev_action must be in 0..{N_ACTIONS - 1} or None, got {prev_action}"
            )
        tokens = [*self.view_tokens(view).tolist(), self.goal_marker, int(self.object_tokens[goal])]
        tokens.append(self.start if prev_action is None else int(self.action_tokens[prev_action]))
        if maze is not None:
            tokens.append(self.stoi[f"<maze:{min(int(maze), self.MAX_MAZE_CUE)}>"])
        if position is not None:
            tokens += [
                self.stoi[f"<row:{int(position[0])}>"],
                self.stoi[f"<col:{int(position[1])}>"],
            ]
        tokens.append(self.sep)
        return tokens

    def decode(self, tokens: Sequence[int] | np.ndarray) -> list[str]:
        """Token ids back to their strings."""
        return [self.itos[int(t)] for t in tokens]
