"""The maze pool, tasks and the transition: pure world logic, no pixels, text or pygame.

A :class:`Maze` carries precomputed lookup tables (the view from every cell, the objects visible
from every cell, the distance to every object from every cell), so a step is a handful of array
lookups, the expert is a table read, and the batched vector env can gather from the same tables.

Why one module of this size: the maze's lookup tables, the task sampler, the episode state and
the step are the world's rules, read together; the tables exist for the step, and splitting
them apart would separate each table from the only code that reads it. Maze generation
(:mod:`~latent_gridworld.core.maze`) and reset options (:mod:`~latent_gridworld.core.tasks`)
are already apart.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS, OBJECT_BASE, Cell, object_letter
from latent_gridworld.core.maze import (
    UNREACHABLE,
    distance_maps,
    generate_radial,
    generate_walls,
)

_MAZE_STREAM = 0  # seed-sequence tags keep the maze stream and the pool assignment independent
_ASSIGNMENT_STREAM = 1
_PLACEMENT_STREAM = 2
_RADIAL_STREAM = 3


@dataclass(frozen=True, eq=False)
class Maze:
    """One maze with its objects and lookup tables. Arrays are read-only.

    Attributes:
        maze_id: Id in the pool (``< n_mazes``) or beyond it (new mazes).
        walls: ``(H, W)`` bool, True for walls.
        object_types: ``(K,)`` object type of each object.
        object_cells: ``(K, 2)`` (row, col) of each object.
        latent: ``(K,)`` True for objects never a goal in training (always False in new mazes).
        codes: ``(H, W)`` uint8 cell codes without the agent.
        views: ``(H, W, V, V)`` uint8: the observed window when the agent stands at each cell
            (the agent's own code drawn at its position).
        visible: ``(H, W, n_object_types)`` bool: object types inside the window from each cell.
        distances: ``(K, H, W)`` int16 shortest-path steps to each object (``-1`` on walls).
        train_starts: ``(S, 2)`` start cells of the ``train`` split.
        held_out_starts: ``(S', 2)`` start cells of the ``explicit`` and ``latent`` splits
            (radial family: the hub room, also the ``new_maze`` starts).
        train_start_object: ``(S,)`` radial family: index of the object whose arm end each
            train start is in view of (a train task never starts beside its own goal); -1 in
            the braided family.
        sites: ``(P, 2)`` every cell an object may occupy in this maze's family (radial: the
            arm ends; braided: every floor cell). What a searcher that knows the family's
            placement rule needs.
        family: The maze family (``"braided"`` or ``"radial"``).
        in_pool: True for a training-pool maze (it has an explicit/latent split).
        placement: Object placement variant; 0 is the maze's own. Other values keep the walls
            and object types but move the objects (and the start cells) elsewhere.
    """

    maze_id: int
    walls: np.ndarray
    object_types: np.ndarray
    object_cells: np.ndarray
    latent: np.ndarray
    codes: np.ndarray
    views: np.ndarray
    visible: np.ndarray
    distances: np.ndarray
    train_starts: np.ndarray
    held_out_starts: np.ndarray
    train_start_object: np.ndarray
    sites: np.ndarray

    in_pool: bool
    placement: int = 0
    family: str = "braided"

    def object_index(self, object_type: int) -> int:
        """Index in this maze's object arrays of ``object_type``; ValueError if absent."""
        index = self._index_of.get(int(object_type))
        if index is None:
            present = ", ".join(f"{t} ({object_letter(t)})" for t in self.object_types)
            raise ValueError(
                f"goal {object_type} is not in maze {self.maze_id}; its objects are {present}"
            )
        return index

    # Derived lookups, computed once per (cached, immutable) maze: a step reads the goal's cell
    # on every call, and a search through numpy arrays there cost half of a step.
    @functools.cached_property
    def _index_of(self) -> dict[int, int]:
        return {int(t): i for i, t in enumerate(self.object_types)}

    @functools.cached_property
    def cell_of(self) -> dict[int, tuple[int, int]]:
        """``object type -> (row, col)`` of every object in this maze."""
        return {int(t): (int(r), int(c)) for t, (r, c) in zip(self.object_types, self.object_cells)}

    @functools.cached_property
    def explicit_types(self) -> np.ndarray:
        """Object types that are training goals in this maze."""
        return _read_only(self.object_types[~self.latent])

    @functools.cached_property
    def latent_types(self) -> np.ndarray:
        """Object types present but never a training goal in this maze."""
        return _read_only(self.object_types[self.latent])

    @functools.cached_property
    def start_cells(self) -> np.ndarray:
        """Every start cell of any split (braided: every free floor cell)."""
        return _read_only(np.concatenate([self.train_starts, self.held_out_starts]))

    def starts_for(self, split: str, goal: int) -> np.ndarray:
        """The start cells a task of ``split`` with ``goal`` is drawn from: the one rule.

        Braided (v0): ``train`` from the train starts, ``explicit``/``latent`` from the
        held-out starts, ``new_maze`` (and any maze outside the pool) from both. Radial (v1):
        ``train`` in view of an object at an arm end other than the goal (the rat placed in
        an arm), every other split in the hub room.
        """
        if self.family == "radial":
            if split != "train":
                return self.held_out_starts
            return self._train_starts_without[self.object_index(goal)]
        if split == "new_maze" or not self.in_pool:
            return self.start_cells
        return self.train_starts if split == "train" else self.held_out_starts

    @functools.cached_property
    def _train_starts_without(self) -> list[np.ndarray]:
        """Radial train starts, without those beside object ``k``, for every ``k``."""
        return [
            _read_only(self.train_starts[self.train_start_object != k])
            for k in range(len(self.object_types))
        ]


def _read_only(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=8)
def pool_assignment(
    pool_seed: int, n_mazes: int, n_object_types: int, objects_per_maze: int, latent_per_maze: int
) -> tuple[np.ndarray, np.ndarray]:
    """Object types of every pool maze and which are latent, balanced across types.

    Latent types are dealt round-robin over a shuffled type order, so every type is latent in
    some maze; explicit types are then picked least-used-first (random tie-break), so every type
    is also a goal in some maze. A latent failure can thus never be blamed on an unfamiliar goal.

    Returns:
        ``types`` ``(n_mazes, K)`` and ``latent`` ``(n_mazes, K)`` bool (latent ones first).
    """
    rng = np.random.default_rng([pool_seed, _ASSIGNMENT_STREAM])
    order = rng.permutation(n_object_types)
    n_explicit = objects_per_maze - latent_per_maze
    types = np.empty((n_mazes, objects_per_maze), dtype=np.int64)
    latent = np.zeros((n_mazes, objects_per_maze), dtype=bool)
    latent[:, :latent_per_maze] = True
    explicit_count = np.zeros(n_object_types, dtype=np.int64)
    for m in range(n_mazes):
        lat = [
            int(order[(m * latent_per_maze + j) % n_object_types]) for j in range(latent_per_maze)
        ]
        candidates = np.setdiff1d(np.arange(n_object_types), lat)
        # least-used first; random keys break ties reproducibly
        keys = explicit_count[candidates] + rng.random(len(candidates)) * 0.5
        chosen = candidates[np.argsort(keys, kind="stable")[:n_explicit]]
        explicit_count[chosen] += 1
        types[m] = np.concatenate([lat, chosen])
    if (explicit_count == 0).any():
        # the greedy pass can strand a type when pools are tight (3 types, 3 mazes, one latent
        # and one explicit each; or latent types dealt round-robin overlapping so that several
        # types are available as goals in one maze only): build the pool from "homes" instead
        types = _assignment_from_homes(
            n_mazes, n_object_types, objects_per_maze, latent_per_maze, rng
        )
    return types, latent


def _assignment_from_homes(
    n_mazes: int, n_types: int, per_maze: int, n_latent: int, rng: np.random.Generator
) -> np.ndarray:
    """A balanced pool that always exists when the config is valid.

    Every type gets an explicit home maze (type of rank ``r`` -> maze ``r % n_mazes``) and, if
    there are latent objects, a different latent home (``(r + 1) % n_mazes``). A maze then
    holds at most ``ceil(n_types / n_mazes)`` homes of each kind, which the config's checks
    (``n_mazes * latent >= n_types``, ``n_mazes * explicit >= n_types``) keep within its
    slots. Remaining slots are filled least-used-first, latent ones before explicit ones.
    """
    n_explicit = per_maze - n_latent
    rank = rng.permutation(n_types)  # type of each rank
    explicit_home = [[int(t) for t in rank[m::n_mazes]] for m in range(n_mazes)]
    latent_home: list[list[int]] = [[] for _ in range(n_mazes)]
    if n_latent:
        for r, t in enumerate(rank.tolist()):
            latent_home[(r + 1) % n_mazes].append(t)
    latent_count = np.zeros(n_types, dtype=np.int64)
    explicit_count = np.zeros(n_types, dtype=np.int64)
    types = np.empty((n_mazes, per_maze), dtype=np.int64)
    for m in range(n_mazes):
        lat, exp = list(latent_home[m]), list(explicit_home[m])
        for chosen, count, want in (
            (lat, latent_count, n_latent),
            (exp, explicit_count, n_explicit),
        ):
            taken = np.isin(np.arange(n_types), lat + exp)
            candidates = np.flatnonzero(~taken)
            keys = count[candidates] + rng.random(len(candidates)) * 0.5
            chosen += candidates[np.argsort(keys, kind="stable")[: want - len(chosen)]].tolist()
            count[chosen] += 1
        types[m] = lat + exp
    return types


def observed_maze(maze: Any, n_mazes: int) -> Any:
    """The maze cue an observation shows (``maze_cue=True``): a pool maze's id, or ``n_mazes``.

    Every maze outside the pool (fresh ``new_maze`` and stream mazes) reads the same cue, so
    the cue names a maze only where an agent can have learned it. Works on ints and arrays.

    >>> observed_maze(3, 16), observed_maze(10**6, 16), observed_maze(np.array([0, 99]), 16)
    (3, 16, array([ 0, 16]))
    """
    if isinstance(maze, np.ndarray):
        return np.minimum(maze, n_mazes)
    return min(int(maze), int(n_mazes))


def build_maze(config: WorldConfig, maze_id: int, placement: int = 0) -> Maze:
    """The maze ``maze_id`` of ``config``'s pool (cached; pure function of its arguments).

    ``placement`` > 0 moves the objects to other cells of the same walls: training data in
    which a maze's layout alone does not tell where things are (docs/prototype.md: with fixed
    placements a sequence model memorises pool mazes and ignores retrieved episodes there).
    """
    for name, value in (("maze", maze_id), ("placement", placement)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer id, got {value!r}")
    return _build_maze(
        int(maze_id),
        int(placement),
        config.pool_seed,
        config.size,
        config.braid,
        config.n_mazes,
        config.n_object_types,
        config.objects_per_maze,
        config.latent_per_maze,
        config.held_out_start_share,
        config.observed_size,
        config.full_view,
        config.maze_family,
        (config.view_size, config.room_size, config.n_arms, config.arm_length),
    )


@functools.lru_cache(maxsize=4096)
def _build_maze(
    maze_id: int,
    placement: int,
    pool_seed: int,
    size: int,
    braid: float,
    n_mazes: int,
    n_object_types: int,
    objects_per_maze: int,
    latent_per_maze: int,
    held_out_start_share: float,
    observed_size: int,
    full_view: bool,
    family: str = "braided",
    radial: tuple[int, int, tuple[int, int], tuple[int, int]] = (5, 5, (10, 12), (7, 10)),
) -> Maze:
    arms: list[np.ndarray] = []
    if family == "radial":
        view_size, room_size, n_arms, arm_length = radial
        rng = np.random.default_rng([pool_seed, _RADIAL_STREAM, maze_id])
        walls, arms = generate_radial(size, room_size, n_arms, arm_length, view_size, rng)
    else:
        rng = np.random.default_rng([pool_seed, _MAZE_STREAM, maze_id])
        walls = generate_walls(size, braid, rng)
    in_pool = maze_id < n_mazes
    if in_pool:
        all_types, all_latent = pool_assignment(
            pool_seed, n_mazes, n_object_types, objects_per_maze, latent_per_maze
        )
        object_types, latent = all_types[maze_id].copy(), all_latent[maze_id].copy()
    else:
        object_types = rng.choice(n_object_types, size=objects_per_maze, replace=False)
        latent = np.zeros(objects_per_maze, dtype=bool)

    floor = np.argwhere(~walls)
    if placement > 0:
        rng = np.random.default_rng([pool_seed, _PLACEMENT_STREAM, maze_id, placement])
    if family == "radial":
        object_cells, train_starts, train_start_object, held_out_starts = _radial_places(
            arms, objects_per_maze, radial[0] // 2, size, radial[1], rng
        )
        sites = np.stack([arm[-1] for arm in arms])
    else:
        cells = floor[rng.permutation(len(floor))]
        object_cells, free_cells = cells[:objects_per_maze], cells[objects_per_maze:]
        n_held_out = min(max(1, round(held_out_start_share * len(free_cells))), len(free_cells) - 1)
        held_out_starts, train_starts = free_cells[:n_held_out], free_cells[n_held_out:]
        train_start_object = np.full(len(train_starts), -1, dtype=np.int64)
        sites = floor

    codes = np.where(walls, Cell.WALL, Cell.FLOOR).astype(np.uint8)
    codes[object_cells[:, 0], object_cells[:, 1]] = OBJECT_BASE + object_types

    views, visible = _view_tables(
        codes, object_types, object_cells, n_object_types, observed_size, full_view
    )
    distances = distance_maps(walls, object_cells)
    # the carving guarantees it: every floor cell reaches every object (so the maze is
    # connected); the maps are a BFS from each object, so the check costs nothing more
    if (distances[:, ~walls] == UNREACHABLE).any():
        raise RuntimeError(
            f"maze {maze_id} (pool seed {pool_seed}) is not connected: an object is unreachable "
            "from some floor cell"
        )

    arrays = {
        "walls": walls,
        "object_types": object_types,
        "object_cells": object_cells,
        "latent": latent,
        "codes": codes,
        "views": views,
        "visible": visible,
        "distances": distances,
        "train_starts": train_starts,
        "held_out_starts": held_out_starts,
        "train_start_object": train_start_object,
        "sites": sites,
    }
    for a in arrays.values():
        a.setflags(write=False)
    return Maze(maze_id=maze_id, **arrays, in_pool=in_pool, placement=placement, family=family)


def _radial_places(
    arms: list[np.ndarray],
    n_objects: int,
    half: int,
    size: int,
    room_size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Objects at the ends of ``n_objects`` random arms; train starts in view of them.

    Returns ``object_cells``, ``train_starts`` (the arm cells within ``half`` of an object's
    end, Chebyshev, as the partial view sees it), ``train_start_object`` (which object each
    train start sees) and the hub room's cells (the test starts).
    """
    used = rng.choice(len(arms), size=n_objects, replace=False)
    object_cells = np.stack([arms[a][-1] for a in used])
    starts, owner = [], []
    for k, a in enumerate(used):
        near = np.abs(arms[a][:-1] - arms[a][-1]).max(axis=1) <= half
        starts.append(arms[a][:-1][near])
        owner.append(np.full(int(near.sum()), k, dtype=np.int64))
    lo = size // 2 - room_size // 2
    room = np.stack(
        np.meshgrid(np.arange(lo, lo + room_size), np.arange(lo, lo + room_size), indexing="ij"),
        axis=-1,
    ).reshape(-1, 2)
    return object_cells, np.concatenate(starts), np.concatenate(owner), room.astype(np.int64)


def _view_tables(
    codes: np.ndarray,
    object_types: np.ndarray,
    object_cells: np.ndarray,
    n_object_types: int,
    observed_size: int,
    full_view: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Views from every cell, and which object types each view shows (agent drawn on top)."""
    size = codes.shape[0]
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    if full_view:
        views = np.broadcast_to(codes, (size, size, size, size)).copy()
        views[rows, cols, rows, cols] = Cell.AGENT
    else:
        half = observed_size // 2
        padded = np.pad(codes, half, constant_values=Cell.WALL)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (observed_size, observed_size))
        views = windows[:size, :size].copy()
        views[:, :, half, half] = Cell.AGENT
    visible = np.zeros((size, size, n_object_types), dtype=bool)
    for t, (r, c) in zip(object_types, object_cells, strict=True):
        if full_view:
            visible[:, :, t] = True
        else:
            half = observed_size // 2
            visible[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1, t] = True
        visible[r, c, t] = False  # the agent standing on it hides it
    return views, visible


# --------------------------------------------------------------------------------------------
# Tasks and episode state


@dataclass(frozen=True)
class Task:
    """A navigation task: go from ``start`` to the object of type ``goal`` in ``maze``.

    ``icl`` marks a within-episode ICL episode: when ``goal`` is reached, a second goal, chosen
    among the objects seen earlier in the episode, is announced. ``placement`` selects an
    object placement variant of the maze (0: its own; see :func:`build_maze`).
    """

    maze: int
    goal: int
    start: tuple[int, int]
    icl: bool = False
    placement: int = 0


def sample_task(config: WorldConfig, rng: np.random.Generator, split: str | None = None) -> Task:
    """Draw a task of ``split`` (default: the config's split)."""
    split = split or config.split
    if split == "new_maze":
        maze = build_maze(config, config.n_mazes + int(rng.integers(config.n_new_mazes)))
        goal = int(_pick(maze.object_types, rng))
    else:
        if split == "latent" and config.latent_per_maze == 0:
            raise ValueError(
                "the latent split needs latent objects: latent_per_maze is 0; valid splits "
                "for this config are train, explicit, new_maze"
            )
        maze = build_maze(config, int(rng.integers(config.n_mazes)))
        goal = int(_pick(maze.latent_types if split == "latent" else maze.explicit_types, rng))
    r, c = draw_start(config, maze, split, goal, rng)
    icl = split == "train" and config.icl_share > 0 and bool(rng.random() < config.icl_share)
    return Task(maze.maze_id, goal, (int(r), int(c)), icl)


def draw_start(
    config: WorldConfig, maze: Maze, split: str, goal: int, rng: np.random.Generator
) -> tuple[int, int]:
    """A start cell for a task of ``split`` with ``goal`` (:meth:`Maze.starts_for`'s cells).

    In the radial family a share ``hub_start_share`` of ``train`` tasks start in the hub room.
    """
    starts = maze.starts_for(split, goal)
    if maze.family == "radial" and split == "train" and config.hub_start_share > 0:
        if rng.random() < config.hub_start_share:
            starts = maze.held_out_starts
    r, c = starts[int(rng.integers(len(starts)))]
    return int(r), int(c)


def _pick(a: np.ndarray, rng: np.random.Generator) -> np.integer:
    """``rng.choice(a)``: the same draw from the same stream, without its overhead."""
    return a[int(rng.integers(len(a)))]


def goal_candidates(config: WorldConfig, maze: Maze, split: str) -> np.ndarray:
    """Object types that may be goals of ``split`` in ``maze`` (latent ones never in train)."""
    if not maze.in_pool or split == "new_maze":
        return maze.object_types
    return maze.latent_types if split == "latent" else maze.explicit_types


@dataclass
class EpisodeState:
    """Everything that changes during an episode. Cheap to copy and to pickle.

    Attributes:
        task: The task being solved.
        maze: The task's maze (its lookup tables).
        position: Agent (row, col).
        goal: Current goal object type (the second goal once announced in an ICL episode).
        goal_index: 0 for the first goal, 1 after an ICL second goal is announced.
        steps: Steps taken.
        seen: ``(n_object_types,)`` bool, object types seen in the view so far.
        optimal_steps: Shortest-path steps of the goals announced so far.
        budget: Steps allowed for the current goal (``WorldConfig.goal_budget``; without a
            per-goal budget, the episode limit).
        goal_start: Step at which the current goal was announced (0 without a per-goal
            budget, so that the limit counts the whole episode).
        terminated: The final goal was reached.
        truncated: The budget ran out first.
    """

    task: Task
    maze: Maze
    position: tuple[int, int]
    goal: int
    goal_index: int
    steps: int
    seen: np.ndarray
    optimal_steps: int
    budget: int = 0
    goal_start: int = 0
    terminated: bool = False
    truncated: bool = False

    @property
    def done(self) -> bool:
        """The episode has ended (terminated or truncated)."""
        return self.terminated or self.truncated

    @property
    def goal_cell(self) -> tuple[int, int]:
        """(row, col) of the current goal object."""
        return self.maze.cell_of[self.goal]

    def distance_to_goal(self) -> int:
        """Shortest-path steps from the agent to the current goal."""
        return int(self.maze.distances[self.maze.object_index(self.goal)][self.position])

    def view(self) -> np.ndarray:
        """The observed window as cell codes (a fresh array)."""
        return self.maze.views[self.position].copy()

    def visible(self) -> np.ndarray:
        """``(n_object_types,)`` bool: object types inside the current view."""
        return self.maze.visible[self.position].copy()


def start_episode(config: WorldConfig, task: Task) -> EpisodeState:
    """The state at the start of ``task``, validating it against ``config``."""
    maze = build_maze(config, task.maze, task.placement)
    goal_idx = maze.object_index(task.goal)
    r, c = task.start
    size = config.size
    if not (0 <= r < size and 0 <= c < size) or maze.walls[r, c]:
        raise ValueError(f"start {task.start} is not a floor cell of maze {task.maze}")
    if any(int(orow) == r and int(ocol) == c for orow, ocol in maze.object_cells):
        raise ValueError(
            f"start {task.start} holds an object in maze {task.maze}; pick a free cell"
        )
    return EpisodeState(
        task=task,
        maze=maze,
        position=(int(r), int(c)),
        goal=task.goal,
        goal_index=0,
        steps=0,
        seen=maze.visible[r, c].copy(),
        optimal_steps=int(maze.distances[goal_idx, r, c]),
        budget=config.goal_budget(int(maze.distances[goal_idx, r, c])),
    )


@dataclass(frozen=True)
class StepOutcome:
    """What a transition produced, besides the new state."""

    reward: float
    reached_goal: bool
    new_goal_announced: bool


def step(
    config: WorldConfig, state: EpisodeState, action: int, rng: np.random.Generator
) -> StepOutcome:
    """Apply ``action`` to ``state`` in place.

    Reaching the current goal gives reward 1. In an ICL episode the first goal reached
    announces a second goal, drawn uniformly among object types seen before this step (latent
    ones excluded in pool mazes, so training never makes a latent pair a goal); with none
    eligible the episode simply ends.
    """
    dr, dc = ACTION_DELTAS[action]
    r, c = state.position
    nr, nc = r + int(dr), c + int(dc)
    if not state.maze.walls[nr, nc]:
        state.position = (nr, nc)
    state.steps += 1
    reward = -config.step_penalty
    reached = state.position == state.goal_cell
    announced = False
    if reached:
        reward += 1.0
        if state.task.icl and state.goal_index == 0:
            eligible = state.seen.copy()
            eligible[state.goal] = False
            if state.maze.in_pool:
                eligible[state.maze.latent_types] = False
            candidates = np.flatnonzero(eligible)
            if len(candidates) > 0:
                state.goal = int(candidates[int(rng.integers(len(candidates)))])
                state.goal_index = 1
                distance = state.distance_to_goal()
                state.optimal_steps += distance
                if config.per_goal_budget:
                    state.budget, state.goal_start = config.goal_budget(distance), state.steps
                announced = True
        state.terminated = not announced
    state.seen |= state.maze.visible[state.position]
    if not state.terminated and state.steps - state.goal_start >= state.budget:
        state.truncated = True
    return StepOutcome(reward, reached, announced)
