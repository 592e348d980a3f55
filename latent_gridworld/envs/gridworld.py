"""``LatentGridworldEnv``: the Gymnasium shell around the world core.

It owns the RNG, validates input at the API boundary, and turns the world state into an
observation with one encoder (pixels or ASCII). The world logic lives in
:mod:`latent_gridworld.core`; nothing here decides how the maze behaves.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Literal, cast

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import N_ACTIONS, OBJECT_LETTERS, SPLITS, Action, Cell
from latent_gridworld.core.tasks import check_options, resolve_task
from latent_gridworld.encoders.ascii import ASCII_HIGH, ASCII_LOW, codes_to_ascii, grid_to_text
from latent_gridworld.encoders.formats import (
    ObsFormat,
    check_obs_format,
    flat_layout,
    format_observation,
    format_space,
)
from latent_gridworld.encoders.pixels import codes_to_image

ObsMode = Literal["pixel", "ascii"]
# every key of the info dict, in order; the vector env shares this list. Every value is a numpy
# scalar or array (no Python scalars, no strings: TorchRL's info reader needs ``.dtype``), and no
# key repeats an observation key (``goal_type``, not ``goal``: TorchRL merges info into the
# observation's tensordict). The split is ``split_id``, an index into ``SPLITS``; the golden
# digests keep the v0 labels (``latent_gridworld.testing.LEGACY_DIGEST_INFO``).
INFO_KEYS = (
    "maze",
    "goal_type",
    "goal_index",
    "start",
    "position",
    "split_id",
    "icl",
    "optimal_steps",
    "is_success",
    "visible_objects",
    "seen_objects",
    "budget",
    "placement",
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
    - ``"view"`` (ASCII mode): ``Box(0, 126, (V*V,), uint8)``, the view as ASCII codes,
      row-major (``#`` wall, ``.`` floor, ``@`` agent, ``A``.. objects).
    - ``"goal"``: ``Discrete(n_object_types)``, the current goal's object type.
    - ``"maze"`` (``maze_cue=True``): ``Discrete(n_mazes + 1)``; new mazes read ``n_mazes``.
    - ``"position"`` (``position_cue=True``): ``MultiDiscrete([size, size])``, (row, col).

    ## Rewards
    1 for reaching the goal (each goal in an ICL episode), minus ``step_penalty`` per step.

    ## Termination / Truncation
    Terminates on reaching the final goal; truncates after ``max_steps`` steps.

    With ``obs_format="onehot"`` every discrete entry is a float32 one-hot ``Box``; with
    ``obs_format="flat"`` the observation is one float32 ``Box`` (layout in ``obs_layout``); see
    :mod:`latent_gridworld.encoders.formats`.

    ## Info
    numpy values only (see ``INFO_KEYS`` and ``docs/environments.md``): ``maze``,
    ``goal_type``, ``goal_index``, ``start``, ``position``, ``split_id`` (index into
    ``SPLITS``; the name is ``env.unwrapped.split``), ``icl``, ``optimal_steps``,
    ``is_success``, ``visible_objects``, ``seen_objects``, ``budget`` (steps the current goal is
    given), ``placement`` (the maze's object-placement variant, 0 = its own).

    ## Arguments
    Every field of :class:`~latent_gridworld.core.config.WorldConfig` (``split``, ``size``,
    ``view_size``, ``full_view``, ``icl_share``, ...), plus ``obs_mode``, ``obs_format``,
    ``tile_size``, ``render_mode`` and ``render_tile_size``.

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
        obs_format: ObsFormat = "dict",
        **world_kwargs: Any,
    ) -> None:
        if obs_mode not in ("pixel", "ascii"):
            raise ValueError(f"unknown obs_mode {obs_mode!r}; valid: 'pixel', 'ascii'")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r}; valid: {self.metadata['render_modes']}"
            )
        for name, value in (("tile_size", tile_size), ("render_tile_size", render_tile_size)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
            if value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value}")
        check_kwargs(type(self).__name__, world_kwargs)
        self.obs_format: ObsFormat = check_obs_format(obs_format)
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

    def _observation_space(self) -> spaces.Space[Any]:
        self.dict_observation_space = self._dict_observation_space()
        return format_space(self.dict_observation_space, self.obs_format)

    def _dict_observation_space(self) -> spaces.Dict:
        """The observation space of ``obs_format="dict"`` (the other formats derive from it)."""
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

    def _observation(self) -> Any:
        obs = self._dict_observation()
        return format_observation(self.dict_observation_space, obs, self.obs_format)

    def _dict_observation(self) -> dict[str, Any]:
        state = self._require_state()
        codes = state.maze.views[state.position]
        obs: dict[str, Any] = {}
        if self.obs_mode == "pixel":
            obs["image"] = codes_to_image(codes, self.tile_size)
        else:
            obs["view"] = codes_to_ascii(codes.ravel())
        obs["goal"] = np.int64(state.goal)
        if self.config.maze_cue:
            obs["maze"] = np.int64(world.observed_maze(state.task.maze, self.config.n_mazes))
        if self.config.position_cue:
            obs["position"] = np.array(state.position, dtype=np.int64)
        return obs

    def _info(self) -> dict[str, Any]:
        state = self._require_state()
        # ints as np.int64 scalars, bools as 0-d bool arrays: SyncVectorEnv batches both into
        # int64 / bool arrays (an np.bool_ scalar would become an object array there)
        return {
            "maze": np.int64(state.task.maze),
            "goal_type": np.int64(state.goal),
            "goal_index": np.int64(state.goal_index),
            "start": np.array(state.task.start, dtype=np.int64),
            "position": np.array(state.position, dtype=np.int64),
            "split_id": np.int64(SPLITS.index(self._split)),
            "icl": np.array(state.task.icl, dtype=bool),
            "optimal_steps": np.int64(state.optimal_steps),
            "is_success": np.array(state.terminated, dtype=bool),
            "visible_objects": state.visible(),
            "seen_objects": state.seen.copy(),
            "budget": np.int64(state.budget),
            "placement": np.int64(state.task.placement),
        }

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Start a task sampled from the split, or the one pinned by ``options``.

        Options (all optional): ``maze`` (int id), ``goal`` (object type int or letter),
        ``start`` ((row, col) ints), ``icl`` (bool), ``split`` (sample from another split),
        ``placement`` (object placement variant of the maze, 0 = its own). Options that
        contradict the split (a pool maze for ``new_maze``, a goal that is not latent for
        ``latent``, ...) raise ``ValueError`` (:mod:`latent_gridworld.core.tasks`).

        ``info["budget"]`` is the number of steps the current goal is given before the task
        truncates (``WorldConfig.goal_budget``).
        """
        super().reset(seed=seed)
        task, self._split = resolve_task(self.config, self.np_random, check_options(options))
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

    # ------------------------------------------------------------------ client hooks

    @property
    def split(self) -> str:
        """The split of the current episode (``info["split_id"]`` indexes ``SPLITS`` with it).

        Before the first reset, the configured split.
        """
        return self._split if self.state is not None else self.config.split

    @property
    def max_episode_steps(self) -> int:
        """The most steps any episode of this env can last (the env truncates there itself).

        The ids register ``max_episode_steps=None`` (a ``TimeLimit`` would truncate a second
        time), so wrappers that read ``spec.max_episode_steps``, such as Gymnasium's
        ``TimeAwareObservation``, need ``gym.make(id, max_episode_steps=...)`` with this value
        (see ``docs/clients.md``). With a per-goal budget (v1) it is a bound: the budget of a
        goal as far away as the grid allows, twice if ICL episodes announce a second goal; the
        budget of the task at hand is ``info["budget"]``.
        """
        c = self.config
        if not c.per_goal_budget:
            return int(c.episode_limit)
        return c.goal_budget(c.size * c.size) * (2 if c.icl_share > 0 else 1)

    @property
    def obs_layout(self) -> dict[str, slice]:
        """``key -> slice`` of each observation entry in the ``obs_format="flat"`` vector."""
        return flat_layout(self.dict_observation_space)

    def get_keys_to_action(self) -> dict[tuple[str | int, ...], int]:
        """Arrow keys and WASD for :func:`gymnasium.utils.play.play` (imports pygame).

        The env has no no-op action and ``play`` sends ``noop`` (default ``0``, north) while no
        key is pressed: ``play(env, wait_on_player=True)`` steps only on a key press.
        """
        try:
            import pygame
        except ImportError as err:  # pragma: no cover - pygame is the render extra
            raise ImportError(
                "get_keys_to_action needs pygame: pip install 'latent-gridworld[render]'"
            ) from err
        keys: dict[tuple[str | int, ...], int] = {
            ("w",): int(Action.NORTH),
            ("d",): int(Action.EAST),
            ("s",): int(Action.SOUTH),
            ("a",): int(Action.WEST),
            (pygame.K_UP,): int(Action.NORTH),
            (pygame.K_RIGHT,): int(Action.EAST),
            (pygame.K_DOWN,): int(Action.SOUTH),
            (pygame.K_LEFT,): int(Action.WEST),
        }
        return keys

    # ------------------------------------------------------------------ internals

    _split: str = "train"

    def _require_state(self) -> world.EpisodeState:
        if self.state is None:
            raise RuntimeError("call reset() before step() or render()")
        return self.state


ENV_KWARGS = ("obs_mode", "obs_format", "tile_size", "render_mode", "render_tile_size")


def check_kwargs(owner: str, world_kwargs: Mapping[str, Any], extra: Sequence[str] = ()) -> None:
    """TypeError, in Python's own wording, for keywords that are neither env nor config fields.

    Python's wording (``__init__() got an unexpected keyword argument 'x'``) matters: TorchRL's
    ``GymEnv`` passes ``frameskip`` and retries without it only on that message.
    """
    fields = WorldConfig.__dataclass_fields__
    unknown = [k for k in world_kwargs if k not in fields]
    if not unknown:
        return
    more = f" (also {', '.join(repr(k) for k in unknown[1:])})" if len(unknown) > 1 else ""
    valid = ", ".join((*extra, *ENV_KWARGS, *fields))
    raise TypeError(
        f"{owner}.__init__() got an unexpected keyword argument {unknown[0]!r}{more}; "
        f"valid: {valid}"
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
