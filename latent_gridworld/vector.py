"""``LatentGridworldVectorEnv``: N worlds stepped together in numpy array operations.

The single env (:class:`~latent_gridworld.envs.gridworld.LatentGridworldEnv`) already reads
every transition from per-maze lookup tables. Here those tables are stacked for every maze in
use (the training pool at construction, other mazes when a reset first needs them), flattened
so that one integer, the *global cell* ``slot * H * W + row * W + col``, addresses an agent's
cell in its maze. A step for all N envs is then a few gathers: walls at the moved-to cells, the
goal cell compared with the agent's, visible objects, and the view (ASCII codes, or RGB in one
gather of view-row strips pre-rendered from the tile atlas). There is no Python loop over envs on
the step path; only the envs that reset, and ICL envs that reach their first goal, make a small
per-env call with their own random generator, in the order the single env makes it. That keeps
the batched env's transitions identical to ``N`` single envs with the same seeds and actions
(``tests/test_vector.py`` checks observations, rewards, terminations, truncations and infos
against ``gymnasium.vector.SyncVectorEnv``).

Created by ``gym.make_vec("LatentGridworld/ASCII-v0", num_envs=N)`` (the ids' default
vectorization mode is this class, their ``vector_entry_point``), or directly.

>>> import numpy as np
>>> import latent_gridworld
>>> from latent_gridworld.vector import LatentGridworldVectorEnv
>>> envs = LatentGridworldVectorEnv(num_envs=3, obs_mode="ascii")
>>> obs, info = envs.reset(seed=0)
>>> obs["view"].shape, obs["goal"].shape, info["maze"].shape
((3, 25), (3,), (3,))
>>> obs, reward, terminated, truncated, info = envs.step(np.array([0, 1, 2]))
>>> reward.dtype, terminated.dtype
(dtype('float64'), dtype('bool'))

Why one module of this size: it is one class whose methods share 28 batched state
arrays (one row per env); splitting the class would spread that state over modules. The rules
it applies are not here: tasks come from :mod:`latent_gridworld.core.tasks`, tables from
:mod:`latent_gridworld.core.world`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from latent_gridworld.core import world
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import ACTION_DELTAS, N_ACTIONS, SPLITS, Action
from latent_gridworld.core.tasks import check_options, resolve_task
from latent_gridworld.encoders.ascii import codes_to_ascii
from latent_gridworld.encoders.formats import ObsFormat, format_observation
from latent_gridworld.encoders.pixels import codes_to_image
from latent_gridworld.envs.gridworld import INFO_KEYS, LatentGridworldEnv, ObsMode, check_kwargs

AUTORESET_MODES = (AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP, AutoresetMode.DISABLED)


class LatentGridworldVectorEnv(VectorEnv):
    """``num_envs`` latent gridworlds stepped together with numpy (no Python loop per env).

    Same arguments, spaces, tasks and transitions as the single env, batched: ``obs`` is a dict
    of arrays with a leading ``num_envs`` axis, rewards are float64, terminations and
    truncations bool, and ``info`` is a dict of arrays with ``_key`` masks, exactly as
    :class:`gymnasium.vector.SyncVectorEnv` would build them from the single envs.

    Autoreset (``autoreset_mode``, also in ``metadata["autoreset_mode"]``):

    - ``NEXT_STEP`` (default, Gymnasium's default): the step after an episode ends resets that
      env, ignoring its action, and returns the first observation of the new episode with
      reward 0 and no termination/truncation.
    - ``SAME_STEP``: an env whose episode ends is reset in the same step; the returned
      observation is the new episode's first, the last one is in ``info["final_obs"]`` (an
      object array, ``None`` for the envs that did not finish) and the last info in
      ``info["final_info"]``, each with its ``_final_obs``/``_final_info`` mask. The SB3
      adapter (:mod:`latent_gridworld.sb3`) uses this mode.
    - ``DISABLED``: no autoreset; reset finished envs with
      ``reset(options={"reset_mask": mask})``. Stepping a finished env raises an error.

    Seeding follows ``SyncVectorEnv``: ``reset(seed=s)`` seeds env ``i`` with ``s + i``, a list
    gives one seed per env, ``None`` keeps each env's generator (or seeds it from entropy).
    Each env owns a ``numpy.random.Generator`` used exactly as the single env uses its
    ``np_random``, so env ``i`` here and a single env reset with the same seed are the same
    episode for the same actions.

    The stacked lookup tables grow when a reset first meets a maze (``new_maze`` split, or an
    explicit ``options["maze"]``); they are never evicted, so feeding an unbounded stream of
    fresh maze ids through ``options`` grows memory (measured: 38 kB per 13x13 maze in ASCII
    mode, 45 kB in pixel mode, over 256 new mazes).

    Args:
        num_envs: Number of environments (>= 1).
        obs_mode: ``"pixel"`` or ``"ascii"``, as for the single env.
        tile_size: Pixel size of one cell in ``"pixel"`` mode.
        render_mode: ``None``, ``"rgb_array"`` (a tuple of full-maze frames, one per env) or
            ``"ansi"`` (a tuple of texts).
        render_tile_size: Pixel size of one cell in rendered frames.
        autoreset_mode: An :class:`gymnasium.vector.AutoresetMode` (or its string value).
        obs_format: ``"dict"``, ``"onehot"`` or ``"flat"``, as for the single env
            (:mod:`latent_gridworld.encoders.formats`).
        **world_kwargs: Any field of :class:`~latent_gridworld.core.config.WorldConfig`.

    ``call`` / ``get_attr`` / ``set_attr`` behave as in ``SyncVectorEnv`` (one result per env),
    on a read-only view of each env: see :meth:`call` and :meth:`set_attr` for what they reach.
    """

    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array", "ansi"],
        "render_fps": 8,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(
        self,
        num_envs: int = 1,
        obs_mode: ObsMode = "pixel",
        tile_size: int = 8,
        render_mode: str | None = None,
        render_tile_size: int = 24,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        obs_format: ObsFormat = "dict",
        **world_kwargs: Any,
    ) -> None:
        check_kwargs(type(self).__name__, world_kwargs, extra=("num_envs", "autoreset_mode"))
        if (
            isinstance(num_envs, (bool, np.bool_))
            or not isinstance(num_envs, (int, np.integer))
            or num_envs < 1
        ):
            raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"unknown render_mode {render_mode!r} for the vector env; valid: "
                f"{self.metadata['render_modes']} (use the single env for 'human')"
            )
        self.autoreset_mode = _parse_autoreset_mode(autoreset_mode)
        # The single env validates every other argument and is reused as the task sampler for
        # reset options and as the renderer, so both behave exactly as in the single env.
        self._single = LatentGridworldEnv(
            obs_mode=obs_mode,
            tile_size=tile_size,
            render_mode=render_mode,
            render_tile_size=render_tile_size,
            obs_format=obs_format,
            **world_kwargs,
        )
        self.obs_format: ObsFormat = self._single.obs_format
        # set_attr values of attributes the envs do not have, one per env (as SyncVectorEnv
        # would set them on each env); get_attr / call read them back
        self._extra_attrs: dict[str, list[Any]] = {}
        self.config: WorldConfig = self._single.config
        self.obs_mode: ObsMode = obs_mode
        self.tile_size = tile_size
        self.render_mode = render_mode
        self.num_envs = int(num_envs)
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}

        self.single_observation_space = self._single.observation_space
        self.single_action_space: spaces.Discrete = spaces.Discrete(N_ACTIONS)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

        c = self.config
        self._size = c.size
        self._cells = c.size * c.size
        self._n_types = c.n_object_types
        self._side = c.observed_size
        # flat-index displacement of each action; border walls keep moves inside the maze
        self._delta = (ACTION_DELTAS[:, 0] * c.size + ACTION_DELTAS[:, 1]).astype(np.int64)
        # Pixel mode: every distinct row of V cell codes met in a view is rendered once from
        # the tile atlas into a *strip* (t pixel rows of V*t*3 bytes); the view table then
        # holds, per cell, the V strip ids of its view, and an image batch is one take of
        # strips, already in image memory order. (A take of single atlas rows needs V*t*V
        # indices per image and measured about 3x slower at N = 4096.)
        self._strip_of: dict[bytes, int] = {}
        self._strips = np.zeros((0, tile_size, self._side * tile_size * 3), dtype=np.uint8)

        self._init_tables()
        n, t = self.num_envs, self._n_types
        self._rngs: list[np.random.Generator | None] = [None] * n
        self._cell = np.zeros(n, dtype=np.int64)  # global cell of the agent
        self._slot = np.zeros(n, dtype=np.int64)
        self._goal = np.zeros(n, dtype=np.int64)  # current goal type
        self._first_goal = np.zeros(n, dtype=np.int64)  # the task's goal (for get_state)
        self._goal_cell = np.zeros(n, dtype=np.int64)  # global cell of the current goal
        self._goal_index = np.zeros(n, dtype=np.int64)
        self._steps = np.zeros(n, dtype=np.int64)
        self._seen = np.zeros((n, t), dtype=bool)
        self._optimal = np.zeros(n, dtype=np.int64)
        self._budget = np.zeros(n, dtype=np.int64)  # steps allowed for the current goal
        self._deadline = np.zeros(n, dtype=np.int64)  # step count at which the task truncates
        self._placement = np.zeros(n, dtype=np.int64)
        self._icl = np.zeros(n, dtype=bool)
        self._maze = np.zeros(n, dtype=np.int64)
        self._start = np.zeros((n, 2), dtype=np.int64)
        self._split = np.full(n, c.split, dtype=object)
        self._terminated = np.zeros(n, dtype=bool)
        self._truncated = np.zeros(n, dtype=bool)
        self._autoreset = np.zeros(n, dtype=bool)
        self._has_reset = False
        self._any_icl = False

    # ------------------------------------------------------------------ lookup tables

    def _init_tables(self) -> None:
        cells, t, side = self._cells, self._n_types, self._side
        self._slots: dict[tuple[int, int], int] = {}  # (maze id, placement) -> slot
        self._n_slots = 0
        cap = self.config.n_mazes
        self._walls = np.zeros(cap * cells, dtype=bool)
        local = np.arange(cells)
        self._rowcol_one = np.stack([local // self._size, local % self._size], axis=1)
        self._rowcol = np.zeros((cap * cells, 2), dtype=np.int64)
        self._visible = np.zeros((cap * cells, t), dtype=bool)
        if self.obs_mode == "pixel":
            self._views = np.zeros((cap * cells, side), dtype=np.intp)  # strip ids
        else:
            self._views = np.zeros((cap * cells, side * side), dtype=np.uint8)  # ASCII
        self._type_cell = np.full((cap, t), -1, dtype=np.int64)  # local cell of each type
        self._dist = np.zeros((cap, t, cells), dtype=np.int64)  # steps to each type's cell
        self._latent_type = np.zeros((cap, t), dtype=bool)
        self._in_pool = np.zeros(cap, dtype=bool)
        self._add_mazes([(m, 0) for m in range(self.config.n_mazes)])

    def _grow(self, needed: int) -> None:
        cap = len(self._in_pool)
        if needed <= cap:
            return
        new_cap = max(needed, 2 * cap)
        cells = self._cells

        def grown(a: np.ndarray, per_slot: int, fill: Any = 0) -> np.ndarray:
            out = np.full((new_cap * per_slot, *a.shape[1:]), fill, dtype=a.dtype)
            out[: len(a)] = a
            return out

        self._walls = grown(self._walls, cells)
        self._rowcol = grown(self._rowcol, cells)
        self._visible = grown(self._visible, cells)
        self._views = grown(self._views, cells)
        self._type_cell = grown(self._type_cell, 1, -1)
        self._dist = grown(self._dist, 1)
        self._latent_type = grown(self._latent_type, 1)
        self._in_pool = grown(self._in_pool, 1)

    def _add_mazes(self, keys: Sequence[tuple[int, int]]) -> None:
        """Stack the tables of the mazes ``(maze id, placement)`` not stacked yet."""
        new = [k for k in dict.fromkeys(keys) if k not in self._slots]
        if not new:
            return
        self._grow(self._n_slots + len(new))
        cells = self._cells
        for key in new:
            maze = world.build_maze(self.config, *key)
            s = self._n_slots
            rows = slice(s * cells, (s + 1) * cells)
            self._walls[rows] = maze.walls.ravel()
            self._rowcol[rows] = self._rowcol_one
            self._visible[rows] = maze.visible.reshape(cells, -1)
            if self.obs_mode == "pixel":
                self._views[rows] = self._strip_ids(maze.views).reshape(cells, -1)
            else:
                self._views[rows] = codes_to_ascii(maze.views.reshape(cells, -1))
            local = maze.object_cells[:, 0] * self._size + maze.object_cells[:, 1]
            self._type_cell[s, maze.object_types] = local
            dist = maze.distances.reshape(len(local), cells).astype(np.int64)
            self._dist[s, maze.object_types] = dist
            if maze.in_pool:
                self._latent_type[s, maze.latent_types] = True
            self._in_pool[s] = maze.in_pool
            self._slots[key] = s
            self._n_slots += 1

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every env (or those in ``options["reset_mask"]``).

        Args:
            seed: ``None`` (keep each env's generator), an int ``s`` (env ``i`` gets ``s + i``)
                or one seed (or ``None``) per env.
            options: The single env's reset options (``maze``, ``goal``, ``start``, ``icl``,
                ``split``), applied to every env reset, plus ``reset_mask``: a bool array of
                shape ``(num_envs,)`` selecting the envs to reset (the others keep their state
                and observation; ``info`` then has entries only for the reset envs).

        Returns:
            The batched observation and info.
        """
        n = self.num_envs
        seeds = _parse_seeds(seed, n)
        if options is not None and not isinstance(options, Mapping):
            check_options(options)  # raises the single env's TypeError
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            idx = np.arange(n)
        else:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != np.bool_:
                raise ValueError(
                    f"options['reset_mask'] must be a bool array of shape ({n},), got "
                    f"shape {mask.shape} and dtype {mask.dtype}"
                )
            idx = np.flatnonzero(mask)
        if not self._has_reset:
            # every env needs a state: a masked first reset resets them all
            idx, mask = np.arange(n), None
        for i in idx:
            if seeds[i] is not None or self._rngs[i] is None:
                self._rngs[i] = seeding.np_random(seeds[i])[0]
        self._reset_envs(idx, options)
        self._has_reset = True
        self._autoreset[idx] = False
        obs = self._observation()
        info = self._info() if mask is None else _scatter_info(self._info(idx), mask, idx)
        return obs, info

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every env with its action (an int array of shape ``(num_envs,)`` in 0..3).

        Returns:
            ``(obs, rewards, terminations, truncations, info)``, batched.
        """
        if not self._has_reset:
            raise RuntimeError("call reset() before step()")
        actions = self._check_actions(actions)
        mode = self.autoreset_mode
        resetting = self._autoreset
        if mode == AutoresetMode.DISABLED and resetting.any():
            bad = np.flatnonzero(resetting)[:10].tolist()
            raise RuntimeError(
                f"envs {bad} have ended (terminated or truncated) and autoreset_mode is "
                "DISABLED; call reset(options={'reset_mask': mask}) for them first"
            )
        rewards, terminated, truncated = self._advance(actions, resetting)
        final: dict[str, Any] = {}
        obs = None
        if mode == AutoresetMode.NEXT_STEP:
            if resetting.any():
                idx = np.flatnonzero(resetting)
                self._reset_envs(idx, {})
                rewards[idx] = 0.0
                terminated[idx] = False
                truncated[idx] = False
            self._autoreset = terminated | truncated
        elif mode == AutoresetMode.SAME_STEP:
            done = terminated | truncated
            if done.any():
                idx = np.flatnonzero(done)
                obs = self._observation()
                final = self._final(obs, done, idx)
                self._reset_envs(idx, {})
                _put_rows(obs, idx, self._observation(idx))
        else:
            self._autoreset = terminated | truncated
        if obs is None:
            obs = self._observation()
        info = self._info()
        if final:
            info = {**final, **info}
        return obs, rewards, terminated, truncated, info

    def render(self) -> tuple[Any, ...] | None:
        """``rgb_array``: a tuple of full-maze frames; ``ansi``: a tuple of texts, per env."""
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode to make_vec")
            return None
        frames: list[Any] = []
        for i in range(self.num_envs):
            self._single.state = self.get_state(i)
            if self.render_mode == "ansi":
                frames.append(self._single.render_text())
            else:
                frames.append(self._single.render_frame())
        self._single.state = None
        return tuple(frames)

    def get_state(self, index: int) -> world.EpisodeState:
        """The episode state of env ``index``, as the single env would hold it (a fresh copy)."""
        if not self._has_reset:
            raise RuntimeError("call reset() before get_state()")
        if not 0 <= index < self.num_envs:
            raise IndexError(f"env index {index} out of range 0..{self.num_envs - 1}")
        i = index
        maze = world.build_maze(self.config, int(self._maze[i]), int(self._placement[i]))
        pos = int(self._cell[i] - self._slot[i] * self._cells)
        task = world.Task(
            int(self._maze[i]),
            int(self._first_goal[i]),
            (int(self._start[i, 0]), int(self._start[i, 1])),
            bool(self._icl[i]),
            int(self._placement[i]),
        )
        return world.EpisodeState(
            task=task,
            maze=maze,
            position=divmod(pos, self._size),
            goal=int(self._goal[i]),
            goal_index=int(self._goal_index[i]),
            steps=int(self._steps[i]),
            seen=self._seen[i].copy(),
            optimal_steps=int(self._optimal[i]),
            budget=int(self._budget[i]),
            goal_start=int(self._deadline[i] - self._budget[i]),
            terminated=bool(self._terminated[i]),
            truncated=bool(self._truncated[i]),
        )

    def np_random_of(self, index: int) -> np.random.Generator:
        """The random generator of env ``index`` (the single env's ``np_random``)."""
        rng = self._rngs[index]
        if rng is None:
            raise RuntimeError("call reset() before np_random_of()")
        return rng

    # ------------------------------------------------------------------ call / get_attr / set_attr

    # methods that change an env: call() runs on a copy of each env, so they would do nothing
    _MUTATING_METHODS = ("reset", "step", "set_state", "close")
    # attributes that set_attr may change: shared by every env and read only when rendering
    _SETTABLE_ATTRS = ("render_tile_size",)

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """As ``SyncVectorEnv.call``: ``name`` of each env, called with the arguments if callable.

        Env ``i`` is seen as a single :class:`LatentGridworldEnv` that holds a copy of env
        ``i``'s episode state, its split and its own random generator: attributes (``config``,
        ``obs_mode``, ``obs_format``, ``state``, ``split``, ``np_random``, ``max_episode_steps``,
        ...), methods that read the env (``render``, ``render_frame``, ``render_text``,
        ``full_codes``, ``get_state``, ``get_keys_to_action``, ...), and values stored with
        :meth:`set_attr`. ``reset``, ``step``, ``set_state`` and ``close`` raise ``ValueError``:
        they would act on the copy; use the vector env's own ``reset`` / ``step``.

        Returns:
            A tuple of ``num_envs`` results.
        """
        if name in self._MUTATING_METHODS:
            raise ValueError(
                f"call({name!r}) would act on a copy of each env and change nothing; use the "
                f"vector env's own {name}() (call reaches attributes and read-only methods)"
            )
        out = []
        for i in range(self.num_envs):
            if name in self._extra_attrs:
                value = self._extra_attrs[name][i]
            else:
                value = self._env_attr(i, name, args, kwargs)
            out.append(value)
        return tuple(out)

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """As ``SyncVectorEnv.get_attr``: attribute ``name`` of each env (see :meth:`call`)."""
        return self.call(name)

    def set_attr(self, name: str, values: list[Any] | tuple[Any, ...] | Any) -> None:
        """As ``SyncVectorEnv.set_attr``: one value per env (a list/tuple), or one for all.

        The envs share their configuration, and the lookup tables are built from it, so only
        ``render_tile_size`` (equal values) among the env's own attributes can be set; setting
        another of them (``config``, ``obs_mode``, ``tile_size``, ...) raises
        ``AttributeError`` (make a new env with ``gym.make_vec(id, num_envs, name=value)``). A
        name the env does not have is stored per env, as ``SyncVectorEnv`` would set it on
        each env, and read back by :meth:`get_attr` (the env itself never reads it).
        """
        n = self.num_envs
        if not isinstance(values, (list, tuple)):
            values = [values for _ in range(n)]
        if len(values) != n:
            raise ValueError(
                f"values must be a list or tuple of length num_envs ({n}), got {len(values)}"
            )
        if name in self._SETTABLE_ATTRS:
            first = values[0]
            if any(v != first for v in values):
                raise ValueError(f"{name} is shared by all envs; got different values {values}")
            if isinstance(first, bool) or not isinstance(first, (int, np.integer)) or first < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {first!r}")
            setattr(self._single, name, int(first))
            return
        if name in self._extra_attrs or not (hasattr(self._single, name) or hasattr(self, name)):
            self._extra_attrs[name] = list(values)
            return
        raise AttributeError(
            f"cannot set {name!r} on the native vector env: its envs share it and its lookup "
            f"tables are built from it; create a new env (gym.make_vec(id, num_envs={n}, "
            f"{name}=...)) or use vectorization_mode='sync'. Settable: "
            f"{', '.join(self._SETTABLE_ATTRS)}, and names the env does not have"
        )

    def _env_attr(self, i: int, name: str, args: Any, kwargs: Any) -> Any:
        """Attribute ``name`` of env ``i`` seen as a single env (called if callable)."""
        single = self._single
        saved = (single.state, single._np_random, single._split)
        try:
            if self._has_reset:
                single.state = self.get_state(i)
                single._split = str(self._split[i])
            single._np_random = self._rngs[i]
            try:
                value = getattr(single, name)
            except AttributeError:
                raise AttributeError(
                    f"the envs of {type(self).__name__} ({type(single).__name__}) have no "
                    f"attribute {name!r}"
                ) from None
            return value(*args, **kwargs) if callable(value) else value
        finally:
            single.state, single._np_random, single._split = saved

    # ------------------------------------------------------------------ internals

    def _check_actions(self, actions: Any) -> np.ndarray:
        a = np.asarray(actions)
        n = self.num_envs
        if a.shape != (n,):
            raise ValueError(
                f"actions must have shape ({n},), one per env, got shape {a.shape} "
                f"(action_space is {self.action_space})"
            )
        if a.dtype.kind not in "iu":
            raise ValueError(
                f"actions must be integers in 0..{N_ACTIONS - 1}, got dtype {a.dtype}; "
                "valid: " + ", ".join(f"{x.value}={x.name}" for x in Action)
            )
        if a.min() < 0 or a.max() >= N_ACTIONS:
            bad = int(np.flatnonzero((a < 0) | (a >= N_ACTIONS))[0])
            raise ValueError(
                f"action {a[bad]} of env {bad} is outside Discrete({N_ACTIONS}); valid: "
                + ", ".join(f"{x.value}={x.name}" for x in Action)
            )
        return a

    def _advance(
        self, actions: np.ndarray, resetting: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One transition of world.step for every env, in array operations.

        Envs in ``resetting`` are stepped too (cheaper than masking) but are reset right after,
        which overwrites everything; they are only kept out of the ICL goal draw, which would
        consume random numbers.
        """
        target = self._cell + self._delta.take(actions)
        cell = np.where(self._walls.take(target), self._cell, target)
        self._cell = cell
        self._steps += 1
        reached = cell == self._goal_cell
        rewards = np.full(self.num_envs, -self.config.step_penalty, dtype=np.float64)
        rewards += reached
        terminated = reached
        if self._any_icl:
            draw = reached & self._icl & (self._goal_index == 0) & ~resetting
            if draw.any():
                terminated = reached.copy()
                for i in np.flatnonzero(draw):
                    terminated[i] = not self._second_goal(int(i))
        # seen is updated after the ICL draw, as in world.step
        self._seen |= self._visible.take(cell, axis=0)
        truncated = ~terminated & (self._steps >= self._deadline)
        self._terminated = terminated.copy()
        self._truncated = truncated.copy()
        return rewards, terminated, truncated

    def _second_goal(self, i: int) -> bool:
        """world.step's ICL draw for env ``i``; True if a second goal was announced."""
        s = int(self._slot[i])
        eligible = self._seen[i].copy()
        eligible[self._goal[i]] = False
        if self._in_pool[s]:
            eligible[self._latent_type[s]] = False
        candidates = np.flatnonzero(eligible)
        if len(candidates) == 0:
            return False
        rng = self._rngs[i]
        assert rng is not None
        goal = int(candidates[int(rng.integers(len(candidates)))])
        local = int(self._cell[i] - s * self._cells)
        self._goal[i] = goal
        self._goal_index[i] = 1
        self._goal_cell[i] = s * self._cells + self._type_cell[s, goal]
        distance = int(self._dist[s, goal, local])
        self._optimal[i] += distance
        if self.config.per_goal_budget:
            self._budget[i] = self.config.goal_budget(distance)
            self._deadline[i] = self._steps[i] + self._budget[i]
        return True

    def _reset_envs(self, idx: np.ndarray, options: dict[str, Any]) -> None:
        """Start a new episode in each env of ``idx`` with its own generator."""
        if len(idx) == 0:
            return
        config = self.config
        options = check_options(options)
        rngs = self._rngs
        tasks: list[world.Task] = []
        split = str(options.get("split", config.split))
        if set(options) - {"split"}:
            for i in idx:
                task, _ = resolve_task(config, rngs[i], options)
                world.start_episode(config, task)  # validates start and goal as reset does
                tasks.append(task)
        else:
            tasks = [world.sample_task(config, rngs[i], split) for i in idx]
        slot_of = self._slots
        if any((t.maze, t.placement) not in slot_of for t in tasks):
            self._add_mazes([(t.maze, t.placement) for t in tasks])
        # one conversion of all fields: (slot, maze, goal, row, col, icl, placement) per task
        fields = np.array(
            [
                (slot_of[t.maze, t.placement], t.maze, t.goal, *t.start, t.icl, t.placement)
                for t in tasks
            ],
            dtype=np.int64,
        ).reshape(len(tasks), 7)
        slots, maze_ids, goals = fields[:, 0], fields[:, 1], fields[:, 2]
        starts, icl = fields[:, 3:5], fields[:, 5].astype(bool)
        local = starts[:, 0] * self._size + starts[:, 1]
        base = slots * self._cells
        cell = base + local
        self._cell[idx] = cell
        self._slot[idx] = slots
        self._goal[idx] = goals
        self._first_goal[idx] = goals
        self._goal_cell[idx] = base + self._type_cell[slots, goals]
        self._goal_index[idx] = 0
        self._steps[idx] = 0
        self._seen[idx] = self._visible[cell]
        self._optimal[idx] = self._dist[slots, goals, local]
        budget = self._goal_budgets(self._optimal[idx])
        self._budget[idx] = budget
        self._deadline[idx] = budget
        self._placement[idx] = fields[:, 6]
        self._icl[idx] = icl
        self._maze[idx] = maze_ids
        self._start[idx] = starts
        self._split[idx] = split
        self._terminated[idx] = False
        self._truncated[idx] = False
        self._any_icl = self._any_icl or bool(icl.any())

    def _goal_budgets(self, shortest: np.ndarray) -> np.ndarray:
        """``WorldConfig.goal_budget`` of every shortest-path length, in one array operation."""
        c = self.config
        if not c.per_goal_budget:
            return np.full(len(shortest), c.episode_limit, dtype=np.int64)
        assert c.budget_scale is not None
        return (c.budget_scale * shortest + c.budget_offset).astype(np.int64)

    def _observation(self, idx: np.ndarray | None = None) -> Any:
        """The batched observation in ``obs_format`` (of the envs in ``idx`` only, if given)."""
        obs = self._dict_observation(idx)
        space = self._single.dict_observation_space
        return format_observation(space, obs, self.obs_format, batch_dims=1)

    def _dict_observation(self, idx: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The batched ``"dict"`` observation (of the envs in ``idx`` only, if given)."""
        cell, goal, maze = self._cell, self._goal, self._maze
        if idx is not None:
            cell, goal, maze = cell[idx], goal[idx], maze[idx]
        obs: dict[str, np.ndarray] = {}
        views = self._views.take(cell, axis=0)
        if self.obs_mode == "pixel":
            obs["image"] = self._image(views)
        else:
            obs["view"] = views
        obs["goal"] = goal.copy()
        if self.config.maze_cue:
            obs["maze"] = world.observed_maze(maze, self.config.n_mazes)
        if self.config.position_cue:
            obs["position"] = self._positions(cell)
        return obs

    def _image(self, strip_ids: np.ndarray) -> np.ndarray:
        """``(N, V)`` strip ids to ``(N, V*t, V*t, 3)`` RGB images in one take."""
        n, px = len(strip_ids), self._side * self.tile_size
        return self._strips.take(strip_ids, axis=0).reshape(n, px, px, 3)

    def _strip_ids(self, views: np.ndarray) -> np.ndarray:
        """Strip id of every view row in ``views`` (``(..., V, V)`` codes), rendering new ones."""
        rows = views.reshape(-1, self._side)
        ids = np.empty(len(rows), dtype=np.intp)
        strip_of = self._strip_of
        new: list[np.ndarray] = []
        for j, row in enumerate(rows):
            key = row.tobytes()
            k = strip_of.get(key)
            if k is None:
                k = strip_of[key] = len(strip_of)
                new.append(row)
            ids[j] = k
        if new:
            t = self.tile_size
            # (k, 1, V) codes -> (k, t, V*t, 3) pixels: the atlas gather of the single env
            strips = codes_to_image(np.stack(new)[:, None, :], t).reshape(len(new), t, -1)
            used = len(strip_of) - len(new)
            if len(strip_of) > len(self._strips):
                grown = np.zeros((2 * len(strip_of), *self._strips.shape[1:]), dtype=np.uint8)
                grown[:used] = self._strips[:used]
                self._strips = grown
            self._strips[used : len(strip_of)] = strips
        return ids.reshape(views.shape[:-1])

    def _positions(self, cell: np.ndarray | None = None) -> np.ndarray:
        """(row, col) of the agent of every env (or of global cells ``cell``)."""
        return self._rowcol.take(self._cell if cell is None else cell, axis=0)

    def _info(self, idx: np.ndarray | None = None) -> dict[str, Any]:
        """The batched info with ``_key`` masks (only the values of ``idx``, if given)."""

        def rows(a: np.ndarray) -> np.ndarray:
            return a.copy() if idx is None else a[idx]

        cell = rows(self._cell)
        split = rows(self._split)
        split_id = np.zeros(len(split), dtype=np.int64)
        for k, name in enumerate(SPLITS):  # a loop over the splits, not the envs
            split_id[split == name] = k
        info: dict[str, Any] = {
            "maze": rows(self._maze),
            "goal_type": rows(self._goal),
            "goal_index": rows(self._goal_index),
            "start": rows(self._start),
            "position": self._positions(cell),
            "split_id": split_id,
            "icl": rows(self._icl),
            "optimal_steps": rows(self._optimal),
            "is_success": rows(self._terminated),
            "visible_objects": self._visible.take(cell, axis=0),
            "seen_objects": rows(self._seen),
            "budget": rows(self._budget),
            "placement": rows(self._placement),
        }
        if idx is not None:
            return info
        out: dict[str, Any] = {}
        everyone = np.ones(self.num_envs, dtype=bool)
        for key in INFO_KEYS:
            out[key] = info[key]
            out[f"_{key}"] = everyone.copy()
        return out

    def _final(
        self, obs: dict[str, np.ndarray], done: np.ndarray, idx: np.ndarray
    ) -> dict[str, Any]:
        """``final_obs``/``final_info`` entries for the envs in ``idx`` (before their reset)."""
        final_obs = np.full(self.num_envs, None, dtype=object)
        for i in idx:
            # copies: the batch rows are overwritten with the next episode's first observation
            if isinstance(obs, dict):
                final_obs[i] = {k: v[i].copy() for k, v in obs.items()}
            else:
                final_obs[i] = obs[i].copy()
        final_info = _scatter_info(self._info(idx), done, idx)
        return {
            "final_obs": final_obs,
            "_final_obs": done.copy(),
            "final_info": final_info,
            "_final_info": done.copy(),
        }


def _put_rows(obs: Any, idx: np.ndarray, rows: Any) -> None:
    """Write the observations ``rows`` of the envs ``idx`` into the batch ``obs`` in place."""
    if isinstance(obs, dict):
        for key, value in rows.items():
            obs[key][idx] = value
    else:
        obs[idx] = rows


def _parse_autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    try:
        parsed = AutoresetMode(mode)
    except ValueError:
        parsed = None
    if parsed is None or parsed not in AUTORESET_MODES:
        raise ValueError(
            f"unknown autoreset_mode {mode!r}; valid: "
            + ", ".join(f"AutoresetMode.{m.name} ({m.value!r})" for m in AUTORESET_MODES)
        )
    return parsed


def _parse_seeds(seed: int | Sequence[int | None] | None, n: int) -> list[int | None]:
    if seed is None:
        return [None] * n
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return [int(seed) + i for i in range(n)]
    if isinstance(seed, (str, bytes)) or not isinstance(seed, Sequence | np.ndarray):
        raise ValueError(f"seed must be None, an int or a list of {n} ints, got {seed!r}")
    seeds = list(seed)
    if len(seeds) != n:
        raise ValueError(f"seed list must have one seed per env ({n}), got {len(seeds)}")
    return [None if s is None else int(s) for s in seeds]


def _scatter_info(rows: dict[str, Any], mask: np.ndarray, idx: np.ndarray) -> dict[str, Any]:
    """Info values of the envs ``idx`` as ``SyncVectorEnv`` batches them: zeros/None elsewhere."""
    out: dict[str, Any] = {}
    n = len(mask)
    for key in INFO_KEYS:
        value = rows[key]
        if value.dtype == object:
            full = np.full(n, None, dtype=object)
        else:
            full = np.zeros((n, *value.shape[1:]), dtype=value.dtype)
        full[idx] = value
        out[key] = full
        out[f"_{key}"] = mask.copy()
    return out
