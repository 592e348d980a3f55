"""From episodes to the model's input: one row of tokenizer ids per step, then whole contexts.

A context is the retrieved episodes (each trimmed to a few steps), then the current episode::

    [memory 1 steps] [memory 2 steps] ... [current episode steps]

Every step is one row of :class:`~latent_gridworld.Tokenizer` ids in the tokenizer's own step
layout (view cells, ``<goal>``, goal letter, previous action, cues, ``<sep>``), so a row is
exactly ``Tokenizer.encode_step(...)`` (a test checks it). In a retrieved step the action slot
holds the action *taken* at that step instead (``<eos>`` when none was), and the row's segment
id (1..k, 0 for the current episode) tells the model which kind of step it reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latent_gridworld.core.constants import CODE_TO_ASCII, OBJECT_BASE
from latent_gridworld.core.world import observed_maze
from latent_gridworld.encoders.ascii import Tokenizer
from latent_gridworld.episode import Episode

TOKENIZER = Tokenizer()
# ids of the cue tokens are contiguous in the fixed vocabulary: <row:0>, <row:1>, ...
_ROW0 = TOKENIZER.stoi["<row:0>"]
_COL0 = TOKENIZER.stoi["<col:0>"]
_MAZE0 = TOKENIZER.stoi["<maze:0>"]


@dataclass(frozen=True)
class StepFormat:
    """Which parts a step row holds (fixed by the env config, stored in checkpoints).

    Attributes:
        view_cells: Cells in the observed window (``V * V``).
        maze_cue: Rows carry a ``<maze:i>`` token.
        position_cue: Rows carry ``<row:r>`` and ``<col:c>`` tokens.
        object_slots: Rows end with this many ``letter <row:r> <col:c>`` triples: the maze
            cell of each object in view (row-major, ``<pad>`` when fewer are in view). They
            are computed from the view and the position cue, so they add no information, only
            a form in which "where did I see X?" is a token lookup (ours; see
            docs/agents.md).
    """

    view_cells: int
    maze_cue: bool = False
    position_cue: bool = False
    object_slots: int = 0

    @property
    def length(self) -> int:
        """Tokens per step row."""
        return (
            self.view_cells
            + 4
            + int(self.maze_cue)
            + 2 * int(self.position_cue)
            + 3 * self.object_slots
        )


def step_rows(
    fmt: StepFormat,
    views: np.ndarray,
    goals: np.ndarray,
    action_slot: np.ndarray,
    positions: np.ndarray | None = None,
    maze: int | np.ndarray | None = None,
) -> np.ndarray:
    """Token rows of ``T`` steps, vectorised.

    Args:
        fmt: The row layout.
        views: ``(T, V, V)`` (or ``(T, V*V)``) cell codes.
        goals: ``(T,)`` goal object types.
        action_slot: ``(T,)`` action per row; ``-1`` writes ``<start>``, ``-2`` writes ``<eos>``.
        positions: ``(T, 2)`` agent (row, col); needed with ``fmt.position_cue``.
        maze: Maze id (or ``(T,)`` ids); needed with ``fmt.maze_cue``.

    Returns:
        ``(T, fmt.length)`` int64 token ids.
    """
    t = len(goals)
    view_ids = TOKENIZER.byte_to_token[CODE_TO_ASCII[np.asarray(views).reshape(t, -1)]]
    if view_ids.shape[1] != fmt.view_cells:
        raise ValueError(
            f"views have {view_ids.shape[1]} cells, the format expects {fmt.view_cells}"
        )
    slot = np.asarray(action_slot, dtype=np.int64)
    act = np.where(
        slot >= 0,
        TOKENIZER.action_tokens[np.clip(slot, 0, None)],
        np.where(slot == -1, TOKENIZER.start, TOKENIZER.eos),
    )
    cols = [
        view_ids,
        np.full((t, 1), TOKENIZER.goal_marker),
        TOKENIZER.object_tokens[np.asarray(goals, dtype=np.int64)][:, None],
        act[:, None],
    ]
    if fmt.maze_cue:
        if maze is None:
            raise ValueError("this step format carries a maze cue: pass maze")
        cue = np.minimum(np.asarray(maze, dtype=np.int64), Tokenizer.MAX_MAZE_CUE)
        cols.append(np.broadcast_to(_MAZE0 + cue, (t,))[:, None])
    if fmt.position_cue:
        if positions is None:
            raise ValueError("this step format carries a position cue: pass positions")
        pos = np.asarray(positions, dtype=np.int64)
        cols += [_ROW0 + pos[:, :1], _COL0 + pos[:, 1:2]]
    if fmt.object_slots:
        if positions is None:
            raise ValueError("object-location tokens need positions (the position cue)")
        cols.append(object_location_tokens(views, positions, fmt.object_slots))
    cols.append(np.full((t, 1), TOKENIZER.sep))
    return np.concatenate(cols, axis=1).astype(np.int64)


def object_location_tokens(views: np.ndarray, positions: np.ndarray, slots: int) -> np.ndarray:
    """``(T, 3 * slots)`` tokens ``letter <row:r> <col:c>`` of the objects in each view.

    ``views`` are agent-centred ``(T, V, V)`` (or ``(T, V*V)``) cell codes and ``positions``
    the agent's ``(T, 2)`` cells, so the object at view cell ``(i, j)`` lies at maze cell
    ``position + (i - V // 2, j - V // 2)``. Objects are listed row-major; unused slots hold
    ``<pad>``.
    """
    t = len(positions)
    flat = np.asarray(views).reshape(t, -1)
    side = int(round(np.sqrt(flat.shape[1])))
    is_object = flat >= OBJECT_BASE
    order = np.argsort(~is_object, axis=1, kind="stable")[:, :slots]  # object cells first
    present = np.take_along_axis(is_object, order, axis=1)
    codes = np.take_along_axis(flat, order, axis=1)
    pos = np.asarray(positions, dtype=np.int64)
    rows = pos[:, :1] + order // side - side // 2
    cols = pos[:, 1:2] + order % side - side // 2
    letters = TOKENIZER.object_tokens[np.where(present, codes - OBJECT_BASE, 0)]
    out = np.stack(
        [
            np.where(present, letters, TOKENIZER.pad),
            np.where(present, _ROW0 + rows, TOKENIZER.pad),
            np.where(present, _COL0 + cols, TOKENIZER.pad),
        ],
        axis=2,
    )
    return out.reshape(t, 3 * slots).astype(np.int64)


def current_rows(fmt: StepFormat, episode: Episode, maze_cue_id: int | None = None) -> np.ndarray:
    """Rows of the steps at which ``episode`` acted (the view before each action).

    The action slot holds the previous action (``<start>`` first), as the env's agent sees it.
    ``maze_cue_id`` is the id the env shows as its maze cue (new mazes all read ``n_mazes``).
    """
    t = len(episode)
    prev = np.concatenate([[-1], episode.actions[: t - 1].astype(np.int64)])
    return step_rows(
        fmt, episode.views[:t], episode.goals[:t], prev, episode.positions[:t], maze_cue_id
    )


def memory_rows(
    fmt: StepFormat, episode: Episode, steps: np.ndarray, maze_cue_id: int | None = None
) -> np.ndarray:
    """Rows of a retrieved episode at ``steps``; the action slot holds the action taken there."""
    steps = np.asarray(steps, dtype=np.int64)
    taken = np.full(len(steps), -2, dtype=np.int64)
    acted = steps < len(episode)
    taken[acted] = episode.actions[steps[acted]]
    return step_rows(
        fmt,
        episode.views[steps],
        episode.goals[steps],
        taken,
        episode.positions[steps],
        maze_cue_id,
    )


@dataclass
class Context:
    """One model input: token rows, segment ids and time indices (and targets in training).

    Attributes:
        rows: ``(N, L)`` token ids, memory rows first.
        segment: ``(N,)`` 0 for the current episode, ``j + 1`` for retrieved episode ``j``.
        time: ``(N,)`` step index within its own episode segment.
        targets: ``(N,)`` action to predict at each row, ``-100`` where none is (memory rows).
        goal_cells: ``(N, 2)`` (row, col) of the current goal at each current row (``-100``
            elsewhere), the target of the auxiliary "where is the goal" loss; None without it.
        told_cells: ``(N, 2)`` a cell the policy is told to walk to at each current row of a
            "go to this cell" sample (``-100`` elsewhere); None when no sample has one.
    """

    rows: np.ndarray
    segment: np.ndarray
    time: np.ndarray
    targets: np.ndarray
    goal_cells: np.ndarray | None = None
    told_cells: np.ndarray | None = None


def build_context(
    fmt: StepFormat,
    current: np.ndarray,
    targets: np.ndarray | None,
    memory: Sequence[np.ndarray],
    max_current: int,
    goal_cells: np.ndarray | None = None,
    told_cells: np.ndarray | None = None,
) -> Context:
    """Concatenate memory row blocks and the current rows (keeping the last ``max_current``)."""
    if len(current) > max_current:
        offset = len(current) - max_current
        current = current[offset:]
        targets = None if targets is None else targets[offset:]
        goal_cells = None if goal_cells is None else goal_cells[offset:]
        told_cells = None if told_cells is None else told_cells[offset:]
    blocks = [*memory, current]
    seg = np.concatenate(
        [np.full(len(b), j + 1) for j, b in enumerate(memory)] + [np.zeros(len(current))]
    )
    time = np.concatenate([np.arange(len(b)) for b in blocks])
    tgt = np.full(len(seg), -100, dtype=np.int64)
    if targets is not None:
        tgt[len(seg) - len(current) :] = targets
    rows = np.concatenate(blocks, axis=0) if blocks else np.zeros((0, fmt.length), np.int64)
    cells, told = (
        None if per_step is None else _current_only(per_step, len(seg))
        for per_step in (goal_cells, told_cells)
    )
    return Context(rows, seg.astype(np.int64), time.astype(np.int64), tgt, cells, told)


def _current_only(per_step: np.ndarray, n: int) -> np.ndarray:
    """``(n, 2)``: ``per_step`` on the last rows (the current episode), ``-100`` before."""
    out = np.full((n, 2), -100, dtype=np.int64)
    out[n - len(per_step) :] = per_step
    return out


def collate(contexts: Sequence[Context], pad_id: int) -> dict[str, np.ndarray]:
    """Right-pad contexts into batch arrays (``pad`` marks padding rows)."""
    n = max(len(c.segment) for c in contexts)
    b = len(contexts)
    length = contexts[0].rows.shape[1]
    rows = np.full((b, n, length), pad_id, dtype=np.int64)
    segment = np.zeros((b, n), dtype=np.int64)
    time = np.zeros((b, n), dtype=np.int64)
    targets = np.full((b, n), -100, dtype=np.int64)
    pad = np.ones((b, n), dtype=bool)
    for i, c in enumerate(contexts):
        k = len(c.segment)
        rows[i, :k], segment[i, :k], time[i, :k], targets[i, :k] = (
            c.rows,
            c.segment,
            c.time,
            c.targets,
        )
        pad[i, :k] = False
    out = {"rows": rows, "segment": segment, "time": time, "targets": targets, "pad": pad}
    for name in ("goal_cells", "told_cells"):
        if any(getattr(c, name) is not None for c in contexts):
            cells = np.full((b, n, 2), -100, dtype=np.int64)
            for i, c in enumerate(contexts):
                value = getattr(c, name)
                if value is not None:
                    cells[i, : len(c.segment)] = value
            out[name] = cells
    return out


def retrieved_blocks(
    fmt: StepFormat,
    episodes: Sequence[Episode],
    goal: int,
    budget: int,
    n_mazes: int,
    trim: str = "visible",
) -> list[np.ndarray]:
    """Row blocks of retrieved episodes, each trimmed to ``budget`` steps.

    ``trim="visible"`` keeps steps with an object in view (each object's first sighting first:
    :func:`agents.memory.trim_steps`); the prototype (docs/prototype.md) measured that
    retrieval only helped once retrieved episodes were cut to <= 10 such steps.
    ``trim="goal"`` keeps the steps that show ``goal`` first (ours: a retrieval that returns
    the part of an episode the query asks about). ``n_mazes`` caps the maze cue as the env
    does (every maze outside the pool reads ``n_mazes``).
    """
    from agents.memory.retrieval import trim_steps

    return [
        memory_rows(
            fmt, ep, trim_steps(ep.visible, budget, trim, goal), observed_maze(ep.maze, n_mazes)
        )
        for ep in episodes
    ]
