"""``LatentGridworldEnv``: the Gymnasium shell around the world core.

It owns the RNG, validates input at the API boundary, and turns the world state into an
observation with one encoder (pixels or ASCII). The world logic lives in
:mod:`latent_gridworld.core`; nothing here decides how the maze behaves.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import (
    N_ACTIONS,
    OBJECT_LETTERS,
    SPLITS,
    Action,
    Cell,
)
from latent_gridworld.encoders.ascii import ASCII_HIGH, ASCII_LOW, codes_to_ascii, grid_to_text
from latent_gridworld.encoders.pixels import codes_to_image

ObsMode = Literal["pixel", "ascii"]
RESET_OPTIONS = ("maze", "goal", "start", "icl", "split", "placement")
# every key of the info dict, in order; the vector env and golden digests share this list
INFO_KEYS = (
    "maze",
    "goal",
    "goal_index",
    "start",
    "position",
    "split",
    "icl",
    "optimal_steps",
    "is_success",
    "visible_objects",
    "seen_objects",
)


class LatentGridworldEnv(gym.Env[dict[str, Any], int]):
    """Navigate a maze to a goal object, seeing only an agent-centred window.

    ## Description
    A pool of braided mazes, each holding a few objects. In training (``split="train"``) the
    goals are the *explicit* objects of each maze; the *latent* objects are seen along the way
    but never a goal there. The ``latent`` split then asks for them. See ``docs/``.

    ## Action Space
    ``Discrete(4)``: 0 north, 1 east, 2 south, 3 west (allocentric; walls block).

    ## Observation Space
    A ``Dict``:

    - ``"image"`` (pixel mode): ``Box(0, 255, (V*t, V*t, 3), uint8)``, the view rendered with
      ``tile_size`` t.
    - ``"view"`` (ASCII mode): ``Box(32, 126, (V*V,), uint8)``, the view as ASCII codes,
      row-major (``#`` wall, ``.`` floor, ``@`` agent, ``A``.. objects).
    - ``"goal"``: ``Discrete(n_object_types)``, the current goal's object type.
    - ``"maze"`` (``maze_cue=True``): ``Discrete(n_mazes + 1)``; new mazes read ``n_mazes``.
    - ``"position"`` (``position_cue=True``): ``MultiDiscrete([size, size])``, (row, col).

    ## Rewards
    1 for reaching the goal (each goal in an ICL episode), minus ``step_penalty`` per step.

    ## Termination / Truncation
    Terminates on reaching the final goal; truncates after ``max_steps`` steps.

    ## Arguments
    Every field of :class:`~latent_gridworld.core.config.WorldConfig` (``split``, ``size``,
    ``view_size``, ``full_view``, ``icl_share``, ...), plus ``obs_mode``, ``tile_size``,
    ``render_mode`` and ``render_tile_size``.

    ## Registered IDs
    ``LatentGridworld/Pixel-v0`` and ``LatentGridworld/ASCII-v0``.

    ## Version History
    - v0: initial release.
    """

    metadata = {"render_modes": ["rgb_array", "ansi", "human"], "render_fps": 8}

    def __init__(
        self,
        obs_mode: ObsMode = "pixel",
        tile_size: int = 8,
        render_mode: str | None = None,
        render_tile_size: int = 24,
        **world_kwargs: Any,
    ) -> None:
        if obs_mode not in ("pixel", "ascii"):
            raise ValueError(f"unknown obs_mode {obs_mode!r}; valid: 'pixel', 'ascii'")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}"
            )
        if tile_size < 1 or render_tile_size < 1:
            raise ValueError("tile_size and render_tile_size must be >= 1")
        unknown = set(world_kwargs) - set(WorldConfig.__dataclass_fields__)
        if unknown:
            raise TypeError(
                f"unknown argument(s) {sorted(unknown)}; valid: obs_mode, tile_size, render_mode, "
                f"render_tile_size, {', '.join(WorldConfig.__dataclass_fields__)}"
            )
        self.config = WorldConfig(**world_kwargs)
        self.obs_mode: ObsMode = obs_mode
        self.tile_size = tile_size
        self.render_mode = render_mode
        self.render_tile_size = render_tile_size
        # Gymnasium >= 1.3 types Discrete as Space[np.int64]; the env takes any int action
        self.action_space = cast(spaces.Space[int], spaces.Discrete(N_ACTIONS))
        self.observation_space = self._observation_space()
        self.state: world.EpisodeState | None = None
        self._viewer: Any = None

    # ------------------------------------------------------------------ spaces and encoding

    def _observation_space(self) -> spaces.Dict:
        c = self.config
        side = c.observed_size
        entries: dict[str, spaces.Space[Any]] = {}
        if self.obs_mode == "pixel":
            px = side * self.tile_size
            entries["image"] = spaces.Box(0, 255, (px, px, 3), np.uint8)
        else:
            entries["view"] = spaces.Box(ASCII_LOW, ASCII_HIGH, (side * side,), np.uint8)
        entries["goal"] = spaces.Discrete(c.n_object_types)
        if c.maze_cue:
            entries["maze"] = spaces.Discrete(c.n_mazes + 1)
        if c.position_cue:
            entries["position"] = spaces.MultiDiscrete([c.size, c.size])
        return spaces.Dict(entries)

    def _observation(self) -> dict[str, Any]:
        state = self._require_state()
        codes = state.maze.views[state.position]
        obs: dict[str, Any] = {}
        if self.obs_mode == "pixel":
            obs["image"] = codes_to_image(codes, self.tile_size)
        else:
            obs["view"] = codes_to_ascii(codes.ravel())
        obs["goal"] = np.int64(state.goal)
        if self.config.maze_cue:
            obs["maze"] = np.int64(min(state.task.maze, self.config.n_mazes))
        if self.config.position_cue:
            obs["position"] = np.array(state.position, dtype=np.int64)
        return obs

    def _info(self) -> dict[str, Any]:
        state = self._require_state()
        return {
            "maze": state.task.maze,
            "goal": state.goal,
            "goal_index": state.goal_index,
            "start": np.array(state.task.start, dtype=np.int64),
            "position": np.array(state.position, dtype=np.int64),
            "split": self._split,
            "icl": state.task.icl,
            "optimal_steps": state.optimal_steps,
            "is_success": state.terminated,
            "visible_objects": state.visible(),
            "seen_objects": state.seen.copy(),
        }

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a task sampled from the split, or the one pinned by ``options``.

        Options (all optional): ``maze`` (int id), ``goal`` (object type int or letter),
        ``start`` ((row, col)), ``icl`` (bool), ``split`` (sample from another split),
        ``placement`` (object placement variant of the maze, 0 = its own).
        """
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset option(s) {sorted(unknown)}; valid: {RESET_OPTIONS}")
        self._split = options.get("split", self.config.split)
        if self._split not in SPLITS:
            raise ValueError(f"unknown split {self._split!r}; valid splits are {', '.join(SPLITS)}")
        task = self._task_from_options(options)
        self.state = world.start_episode(self.config, task)
        if self.render_mode == "human":
            self.render()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Move one cell; see the class docstring for rewards and episode ends."""
        state = self._require_state()
        if state.done:
            raise RuntimeError("the episode has ended (terminated or truncated); call reset()")
        outcome = world.step(self.config, state, _validate_action(action), self.np_random)
        if self.render_mode == "human":
            self.render()
        return self._observation(), outcome.reward, state.terminated, state.truncated, self._info()

    def render(self) -> Any:
        """``rgb_array``: the whole maze; ``ansi``: the whole maze as text; ``human``: a window."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode to gym.make")
            return None
        if self.render_mode == "ansi":
            return self.render_text()
        frame = self.render_frame()
        if self.render_mode == "rgb_array":
            return frame
        if self._viewer is None:
            from latent_gridworld.rendering.viewer import Viewer  # pygame only when used

            self._viewer = Viewer(caption="latent-gridworld", fps=self.metadata["render_fps"])
        self._viewer.show(frame)
        return None

    def close(self) -> None:
        """Close the window, if one is open (safe to call twice)."""
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

    # ------------------------------------------------------------------ rendering helpers

    def full_codes(self) -> np.ndarray:
        """``(H, W)`` cell codes of the whole maze with the agent drawn."""
        state = self._require_state()
        codes = state.maze.codes.copy()
        codes[state.position] = Cell.AGENT
        return codes

    def render_frame(self, tile_size: int | None = None) -> np.ndarray:
        """RGB frame of the whole maze: observed window lit, goal outlined, agent drawn."""
        state = self._require_state()
        t = tile_size or self.render_tile_size
        frame = codes_to_image(self.full_codes(), t).copy()
        if not self.config.full_view:  # dim what the agent cannot see
            half = self.config.view_size // 2
            r, c = state.position
            lit = np.zeros(frame.shape[:2], dtype=bool)
            lit[
                max(r - half, 0) * t : (r + half + 1) * t, max(c - half, 0) * t : (c + half + 1) * t
            ] = True
            frame[~lit] = (frame[~lit] * 0.55).astype(np.uint8)
        gr, gc = state.goal_cell
        box = frame[gr * t : (gr + 1) * t, gc * t : (gc + 1) * t]
        edge = max(1, t // 8)
        for sl in (np.s_[:edge], np.s_[-edge:]):
            box[sl, :] = (255, 215, 0)
            box[:, sl] = (255, 215, 0)
        return frame

    def render_text(self) -> str:
        """The whole maze as text, then the goal."""
        state = self._require_state()
        text = grid_to_text(codes_to_ascii(self.full_codes()))
        return f"{text}\ngoal: {OBJECT_LETTERS[state.goal]}\n"

    # ------------------------------------------------------------------ state access

    def get_state(self) -> world.EpisodeState:
        """A deep copy of the episode state (restore it with :meth:`set_state`)."""
        return copy.deepcopy(self._require_state())

    def set_state(self, state: world.EpisodeState) -> None:
        """Restore a state from :meth:`get_state`."""
        self.state = copy.deepcopy(state)

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_viewer"] = None  # a pygame window cannot be pickled; the copy opens its own
        return d

    # ------------------------------------------------------------------ internals

    _split: str = "train"

    def _require_state(self) -> world.EpisodeState:
        if self.state is None:
            raise RuntimeError("call reset() before step() or render()")
        return self.state

    def _task_from_options(self, options: Mapping[str, Any]) -> world.Task:
        config = self.config
        sampled = world.sample_task(config, self.np_random, self._split)
        if not {"maze", "goal", "start", "icl", "placement"} & set(options):
            return sampled
        maze = world.build_maze(
            config, options.get("maze", sampled.maze), options.get("placement", 0)
        )
        if "goal" in options:
            goal = _parse_goal(options["goal"], config.n_object_types)
            if "maze" not in options:
                maze = self._maze_with_goal(goal, maze)
            maze.object_index(goal)  # raises, naming the maze's objects
        elif "maze" in options or "placement" in options:
            candidates = world.goal_candidates(config, maze, self._split)
            if len(candidates) == 0:
                raise ValueError(f"maze {maze.maze_id} has no {self._split} goals")
            goal = int(self.np_random.choice(candidates))
        else:
            goal = sampled.goal
        if "start" in options:
            start = options["start"]
            if np.shape(start) != (2,):
                raise ValueError(f"start must be a (row, col) pair, got {start!r}")
            start = (int(start[0]), int(start[1]))
        elif "maze" in options or "placement" in options or maze.maze_id != sampled.maze:
            starts = {
                "train": maze.train_starts,
                "new_maze": maze.start_cells,
            }.get(self._split, maze.held_out_starts)
            if not maze.in_pool:
                starts = maze.start_cells
            r, c = starts[int(self.np_random.integers(len(starts)))]
            start = (int(r), int(c))
        else:
            start = sampled.start
        icl = bool(options.get("icl", sampled.icl))
        return world.Task(maze.maze_id, goal, start, icl, maze.placement)

    def _maze_with_goal(self, goal: int, sampled: world.Maze) -> world.Maze:
        """A maze of the split in which ``goal`` may be a goal (``goal`` pinned, ``maze`` not).

        The sampled maze is kept when it qualifies, so pinning a goal that the sampled task
        could have had changes nothing else.
        """
        config, split = self.config, self._split
        if goal in world.goal_candidates(config, sampled, split):
            return sampled
        if split == "new_maze":
            first = config.n_mazes
            ids = first + self.np_random.permutation(config.n_new_mazes)
        else:
            ids = self.np_random.permutation(config.n_mazes)
        for maze_id in ids:
            maze = world.build_maze(config, int(maze_id), sampled.placement)
            if goal in world.goal_candidates(config, maze, split):
                return maze
        raise ValueError(
            f"goal {goal} ({OBJECT_LETTERS[goal]}) is never a {split!r} goal in this pool; "
            "pin a maze that holds it with options['maze'], or choose another split"
        )


def _validate_action(action: Any) -> int:
    if isinstance(action, np.ndarray) and action.shape == ():
        action = action.item()
    if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)):
        raise ValueError(
            f"action must be an integer in 0..{N_ACTIONS - 1} "
            f"({', '.join(a.name for a in Action)}), got {action!r}"
        )
    if not 0 <= action < N_ACTIONS:
        raise ValueError(
            f"action {int(action)} is outside Discrete({N_ACTIONS}); valid: "
            + ", ".join(f"{a.value}={a.name}" for a in Action)
        )
    return int(action)


def _parse_goal(goal: Any, n_object_types: int) -> int:
    if isinstance(goal, str):
        if len(goal) != 1 or goal.upper() not in OBJECT_LETTERS[:n_object_types]:
            raise ValueError(
                f"unknown goal {goal!r}; valid letters: {OBJECT_LETTERS[:n_object_types]}"
            )
        return OBJECT_LETTERS.index(goal.upper())
    if isinstance(goal, (bool, np.bool_)) or not isinstance(goal, (int, np.integer)):
        raise ValueError(f"goal must be an object type (int or letter), got {goal!r}")
    if not 0 <= goal < n_object_types:
        raise ValueError(f"unknown goal {goal}; object types are 0..{n_object_types - 1}")
    return int(goal)
