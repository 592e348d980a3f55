"""Reset options to a task: the one resolver of the single and the vector env.

``reset(options=...)`` may pin any part of a task (maze, goal, start, ICL, placement, split);
what is not pinned is drawn from the split with the env's generator. Both envs call
:func:`resolve_task` with their own generator, so the same seed and options give the same task
in either. Options are validated here, once: wrong types and options that contradict the split
(a pool maze for ``new_maze``, a goal that is not latent for ``latent``, ...) raise an error
that names them, instead of silently running a different experiment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig, is_int
from latent_gridworld.core.constants import OBJECT_LETTERS, SPLITS

RESET_OPTIONS = ("maze", "goal", "start", "icl", "split", "placement")
_TASK_OPTIONS = frozenset(RESET_OPTIONS) - {"split"}


def check_options(options: object) -> dict[str, Any]:
    """``options`` as a dict, with every key and value type checked.

    >>> check_options({"maze": 3, "goal": "B"})
    {'maze': 3, 'goal': 'B'}
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise TypeError(
            f"reset(options=...) must be a dict of option name -> value, or None; got "
            f"{type(options).__name__} {options!r}. Valid option names: {', '.join(RESET_OPTIONS)}"
        )
    bad = [k for k in options if not isinstance(k, str)]
    if bad:
        raise TypeError(
            f"reset options are keyed by option name (str), got key(s) {bad!r}; "
            f"valid option names: {', '.join(RESET_OPTIONS)}"
        )
    unknown = set(options) - set(RESET_OPTIONS)
    if unknown:
        raise ValueError(
            f"unknown reset option(s) {sorted(unknown, key=str)}; valid: {RESET_OPTIONS}"
        )
    out = dict(options)
    for name in ("maze", "placement"):
        if name in out and (not is_int(out[name]) or out[name] < 0):
            raise ValueError(
                f"options[{name!r}] must be a non-negative integer id, got {out[name]!r}"
            )
    if "icl" in out and not isinstance(out["icl"], (bool, np.bool_)):
        raise ValueError(f"options['icl'] must be a bool, got {out['icl']!r}")
    if "split" in out and (not isinstance(out["split"], str) or out["split"] not in SPLITS):
        raise ValueError(f"unknown split {out['split']!r}; valid splits are {', '.join(SPLITS)}")
    if "start" in out:
        start = out["start"]
        if (
            isinstance(start, (str, bytes))
            or np.shape(start) != (2,)
            or not all(is_int(x) for x in start)
        ):
            raise ValueError(
                f"options['start'] must be a (row, col) pair of integers, got {start!r}"
            )
    return out


def parse_goal(goal: Any, n_object_types: int) -> int:
    """An object type from an int or a letter (``"B"`` or ``"b"``), validated."""
    if isinstance(goal, str):
        if len(goal) != 1 or goal.upper() not in OBJECT_LETTERS[:n_object_types]:
            raise ValueError(
                f"unknown goal {goal!r}; valid letters: {OBJECT_LETTERS[:n_object_types]}"
            )
        return OBJECT_LETTERS.index(goal.upper())
    if not is_int(goal):
        raise ValueError(f"goal must be an object type (int or letter), got {goal!r}")
    if not 0 <= goal < n_object_types:
        raise ValueError(f"unknown goal {goal}; object types are 0..{n_object_types - 1}")
    return int(goal)


def resolve_task(
    config: WorldConfig, rng: np.random.Generator, options: Mapping[str, Any]
) -> tuple[world.Task, str]:
    """The task that ``reset(options=options)`` starts, and the split it belongs to.

    ``options`` must have passed :func:`check_options`. Without task options the task is
    ``world.sample_task``'s; with some, the rest is drawn in a fixed order (maze, goal, start)
    with ``rng``, so that pinning a part the sampled task already had changes nothing else.
    """
    split = str(options.get("split", config.split))
    sampled = world.sample_task(config, rng, split)
    if not _TASK_OPTIONS & set(options):
        return sampled, split
    maze = world.build_maze(config, options.get("maze", sampled.maze), options.get("placement", 0))
    _check_maze_for_split(config, maze, split)
    if "goal" in options:
        goal = parse_goal(options["goal"], config.n_object_types)
        if "maze" not in options:
            maze = _maze_with_goal(config, rng, split, goal, maze)
        maze.object_index(goal)  # raises, naming the maze's objects
        _check_goal_for_split(config, maze, split, goal)
    elif "maze" in options or "placement" in options:
        candidates = world.goal_candidates(config, maze, split)
        if len(candidates) == 0:
            raise ValueError(f"maze {maze.maze_id} has no {split} goals")
        goal = int(rng.choice(candidates))
    else:
        goal = sampled.goal
    if "start" in options:
        start = (int(options["start"][0]), int(options["start"][1]))
    elif (
        "maze" in options
        or "placement" in options
        or maze.maze_id != sampled.maze
        # radial train starts depend on the goal: the sampled one may be beside the new goal
        or _beside(maze, goal, sampled.start)
    ):
        start = world.draw_start(config, maze, split, goal, rng)
    else:
        start = sampled.start
    icl = bool(options.get("icl", sampled.icl))
    # the caller's world.start_episode validates the start (floor, no object)
    return world.Task(maze.maze_id, goal, start, icl, maze.placement), split


def _beside(maze: world.Maze, goal: int, start: tuple[int, int]) -> bool:
    """True when ``start`` is one of the radial train starts beside ``goal``'s own arm end."""
    if maze.family != "radial":
        return False
    near = maze.train_starts[maze.train_start_object == maze.object_index(goal)]
    return bool((near == start).all(axis=1).any())


def _check_maze_for_split(config: WorldConfig, maze: world.Maze, split: str) -> None:
    if split == "new_maze" and maze.in_pool:
        raise ValueError(
            f"maze {maze.maze_id} is a training-pool maze (ids 0..{config.n_mazes - 1}), but the "
            f"split is 'new_maze'; pin a maze id >= {config.n_mazes} or choose another split"
        )
    if split in ("latent", "explicit") and not maze.in_pool:
        raise ValueError(
            f"maze {maze.maze_id} is outside the training pool (ids 0..{config.n_mazes - 1}), so "
            f"it has no {split} objects; pin a pool maze or use split='new_maze'"
        )


def _check_goal_for_split(config: WorldConfig, maze: world.Maze, split: str, goal: int) -> None:
    if not maze.in_pool:
        return
    latent = goal in maze.latent_types
    if split == "latent" and not latent:
        raise ValueError(
            f"goal {goal} ({OBJECT_LETTERS[goal]}) is not latent in maze {maze.maze_id} (its "
            f"latent objects are {', '.join(OBJECT_LETTERS[t] for t in maze.latent_types)}); "
            "choose one of those or another split"
        )
    if split in ("train", "explicit") and latent:
        raise ValueError(
            f"goal {goal} ({OBJECT_LETTERS[goal]}) is latent in maze {maze.maze_id}: latent pairs "
            f"are never {split} goals; use split='latent'"
        )


def _maze_with_goal(
    config: WorldConfig, rng: np.random.Generator, split: str, goal: int, sampled: world.Maze
) -> world.Maze:
    """A maze of the split in which ``goal`` may be a goal (``goal`` pinned, ``maze`` not).

    The sampled maze is kept when it qualifies, so pinning a goal that the sampled task could
    have had changes nothing else.
    """
    if goal in world.goal_candidates(config, sampled, split):
        return sampled
    if split == "new_maze":
        ids = config.n_mazes + rng.permutation(config.n_new_mazes)
    else:
        ids = rng.permutation(config.n_mazes)
    for maze_id in ids:
        maze = world.build_maze(config, int(maze_id), sampled.placement)
        if goal in world.goal_candidates(config, maze, split):
            return maze
    raise ValueError(
        f"goal {goal} ({OBJECT_LETTERS[goal]}) is never a {split!r} goal in this pool; "
        "pin a maze that holds it with options['maze'], or choose another split"
    )
