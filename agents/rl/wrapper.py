"""``RetrievalObservation``: a Gymnasium wrapper that puts retrieved episodes into the observation.

At ``reset`` (and, with ``requery="goal_change"``, whenever an ICL episode announces a new
goal) the wrapper asks an :class:`~agents.memory.EpisodicMemory` retriever for ``k`` past
episodes, trims each to the ``steps_per_episode`` most informative steps and adds them to the
observation as fixed-shape arrays (trimming is :func:`agents.memory.trim_steps`, ``"visible"``:
each object's first sighting, then evenly spaced steps where an object is visible; D9 measured
that retrieved episodes cut to such steps are easier to use than whole ones):

- ``"mem_views"``: ``(k * L * V * V,)`` uint8 cell codes of the retrieved steps' views;
- ``"mem_actions"``: ``(k * L,)`` uint8 action taken at each step (``4`` = the episode's end);
- ``"mem_goals"``: ``(k * L,)`` uint8 goal shown at each step;
- ``"mem_mask"``: ``(k * L,)`` uint8, 1 where a slot holds a retrieved step, 0 for padding.

They are flat vectors (row-major over episode, step, view row, view column) because SB3's
checker and most RL libraries expect images or 1-D vectors; :meth:`RetrievalObservation.
unflatten` gives them their shape back.

Why cell codes and not pixels or ids: PPO's rollout buffer stores every observation. Cell
codes of ``k = 3`` episodes of ``L = 8`` steps in a 5x5 view take 600 bytes per observation,
less than the 4800-byte image itself; the same steps as 40x40 RGB images would take 115 kB
per observation (about 0.5 GB for a 4096-observation rollout). The features extractor turns
codes into exactly the pixels' first-layer features through the tile atlas (see
:mod:`agents.rl.extractor`), so nothing is lost. Ids plus a store read by the extractor would
be smaller still, but tie a checkpoint to a live memory object and break when the memory
changes between acting and the PPO update; codes are self-contained.

With ``mode="none"`` the same keys are present and all-masked: both agents of a pair have the
same observation space and the same network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents.memory import EpisodicMemory, Featurizer, RetrievalQuery, make_retriever, trim_steps
from latent_gridworld.core.constants import N_ACTIONS, N_CELL_CODES, SPLITS
from latent_gridworld.episode import Episode, EpisodeRecorder

RetrievalMode = Literal["oracle", "knn", "none"]
MODES: tuple[str, ...] = ("oracle", "knn", "none")
REQUERY: tuple[str, ...] = ("reset", "goal_change")
MEMORY_KEYS: tuple[str, ...] = ("mem_views", "mem_actions", "mem_goals", "mem_mask")
# only in worlds with the position cue (``position_cue=True``): where each retrieved step was,
# as the env's own ``position`` key says where the agent is
POSITION_KEY = "mem_positions"
TRIMS: tuple[str, ...] = ("visible", "uniform", "route")
END_ACTION = N_ACTIONS  # the action slot of an episode's last view (no action taken there)


def check_retrieval_inputs(
    config: Any, base: spaces.Dict, memory: EpisodicMemory | None, needs_memory: str
) -> tuple[int, int]:
    """The checks both retrieval wrappers make; returns ``(view_size, n_object_types)``.

    ``needs_memory`` names what needs a memory (``"mode 'oracle'"``), or is empty if nothing does.
    """
    clash = {*MEMORY_KEYS, POSITION_KEY} & set(base.spaces)
    if clash:
        raise ValueError(f"the env already has observation keys {sorted(clash)}")
    if memory is None and needs_memory:
        raise ValueError(
            f"{needs_memory} needs an EpisodicMemory; pass memory=EpisodicMemory(n_object_types="
            f"{config.n_object_types}) (prefilled or filled online), or use mode='none'"
        )
    view_size, n_types = int(config.observed_size), int(config.n_object_types)
    if memory is not None:
        check_memory_matches(memory, view_size, n_types)
    return view_size, n_types


def memory_space(
    base: spaces.Dict, n_steps: int, view_size: int, n_object_types: int
) -> spaces.Dict:
    """``base`` plus the ``mem_*`` boxes of ``n_steps`` retrieved steps.

    The one layout that the single-env wrapper and the batched one (``VecRetrieval``) share.
    With a ``position`` key in ``base`` (the position cue) it adds ``mem_positions``, the
    ``(row, col)`` of every retrieved step.
    """
    cells = view_size**2
    keys: dict[str, spaces.Space[Any]] = {
        **base.spaces,
        "mem_views": spaces.Box(0, N_CELL_CODES - 1, (n_steps * cells,), np.uint8),
        "mem_actions": spaces.Box(0, END_ACTION, (n_steps,), np.uint8),
        "mem_goals": spaces.Box(0, n_object_types - 1, (n_steps,), np.uint8),
        "mem_mask": spaces.Box(0, 1, (n_steps,), np.uint8),
    }
    position = base.spaces.get("position")
    if position is not None:
        assert isinstance(position, spaces.MultiDiscrete)
        top = int(position.nvec.max()) - 1
        keys[POSITION_KEY] = spaces.Box(0, top, (n_steps * 2,), np.uint8)
    return spaces.Dict(keys)


class RetrievalObservation(
    gym.Wrapper[dict[str, Any], int, dict[str, Any], int], gym.utils.RecordConstructorArgs
):
    """Add ``k`` retrieved, trimmed episodes (cell codes + mask) to a latent gridworld's Dict obs.

    Args:
        env: A ``LatentGridworld`` env (possibly wrapped), either observation mode.
        memory: The episodic memory to retrieve from. Required for ``oracle``/``knn`` and for
            ``fill_online``; may be ``None`` for ``mode="none"`` without online filling.
        mode: ``"oracle"`` (relevant + distractors), ``"knn"`` or ``"none"`` (the baseline:
            keys present, all masked).
        k: Retrieved episodes per query.
        steps_per_episode: ``L``, steps kept per retrieved episode.
        n_relevant: Relevant episodes per oracle query.
        n_distractors: Distractor episodes per oracle query.
        requery: ``"reset"`` queries once per episode; ``"goal_change"`` also queries when an
            ICL episode announces its second goal.
        fill_online: Add every finished episode of this env to ``memory`` (the agent's own
            experience). Needs the memory in this process (``DummyVecEnv``, not subprocesses).
        featurizer: Passed to :func:`agents.memory.make_retriever` (``knn`` keys).
        seed: Seed of the retrieval RNG; it is also re-seeded by ``reset(seed=...)``. Kept
            apart from the env's RNG so both modes see identical task sequences.

    Raises:
        ValueError: Unknown mode or requery, no memory where one is needed, or a memory whose
            episodes do not match the env's view size or object vocabulary.
    """

    def __init__(
        self,
        env: gym.Env[dict[str, Any], int],
        memory: EpisodicMemory | None,
        mode: RetrievalMode = "oracle",
        *,
        k: int = 3,
        steps_per_episode: int = 8,
        n_relevant: int = 1,
        n_distractors: int = 2,
        requery: str = "reset",
        fill_online: bool = False,
        featurizer: Featurizer | None = None,
        seed: int | None = None,
        trim: str = "visible",
    ) -> None:
        # recorded so that env.spec can re-create the wrapped env (Gymnasium's checker does)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            memory=memory,
            mode=mode,
            k=k,
            steps_per_episode=steps_per_episode,
            n_relevant=n_relevant,
            n_distractors=n_distractors,
            requery=requery,
            fill_online=fill_online,
            featurizer=featurizer,
            seed=seed,
            trim=trim,
        )
        gym.Wrapper.__init__(self, env)
        if mode not in MODES:
            raise ValueError(f"unknown retrieval mode {mode!r}; valid: {', '.join(MODES)}")
        if requery not in REQUERY:
            raise ValueError(f"unknown requery {requery!r}; valid: {', '.join(REQUERY)}")
        check_trim(trim)
        if k < 1 or steps_per_episode < 1:
            raise ValueError(f"k and steps_per_episode must be >= 1, got {k}, {steps_per_episode}")
        base = env.unwrapped
        config = getattr(base, "config", None)
        if config is None or not isinstance(env.observation_space, spaces.Dict):
            raise ValueError(
                "RetrievalObservation wraps a LatentGridworld env (Dict observations and a "
                f"WorldConfig); got {type(base).__name__}"
            )
        need = f"mode {mode!r}" if mode != "none" else "fill_online=True"
        self.view_size, self.n_object_types = check_retrieval_inputs(
            config, env.observation_space, memory, need if mode != "none" or fill_online else ""
        )
        self.memory = memory
        self.mode = mode
        self.k = k
        self.steps_per_episode = steps_per_episode
        self.trim = trim
        self.requery = requery
        self.fill_online = fill_online
        self.retriever = (
            make_retriever(
                mode,
                memory,
                n_relevant=n_relevant,
                n_distractors=n_distractors,
                featurizer=featurizer,
            )
            if mode != "none"
            else None
        )
        self._rng = np.random.default_rng(seed)
        self.positions = "position" in env.observation_space.spaces
        self.observation_space = memory_space(
            env.observation_space, k * steps_per_episode, self.view_size, self.n_object_types
        )
        self._memory_obs = self._empty_memory_obs()
        self._recorder: EpisodeRecorder | None = None  # the episode being played
        # wall-clock accounting (seconds): inside the wrapped env, and inside retrieval
        self.env_time = 0.0
        self.retrieval_time = 0.0
        self.n_queries = 0

    # ------------------------------------------------------------------ Gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Reset the env, record the first step and retrieve for the new task."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        t0 = time.perf_counter()
        obs, info = self.env.reset(seed=seed, options=options)
        self.env_time += time.perf_counter() - t0
        state = self.env.unwrapped.state  # type: ignore[attr-defined]
        self._recorder = EpisodeRecorder(state, SPLITS[int(info["split_id"])])
        self._retrieve(info)
        return self._augment(obs), info

    def step(self, action: int) -> tuple[dict[str, Any], float, bool, bool, dict[str, Any]]:
        """Step the env; re-query on a new goal if asked; store the episode when it ends."""
        t0 = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.env_time += time.perf_counter() - t0
        recorder = self._recording()
        goal_changed = int(info["goal_type"]) != recorder.goals[-1]
        recorder.step(action, self.env.unwrapped.state)  # type: ignore[attr-defined]
        if goal_changed and self.requery == "goal_change":
            self._retrieve(info)
        if (terminated or truncated) and self.fill_online and self.memory is not None:
            t0 = time.perf_counter()
            self.memory.add(self._episode())
            self.retrieval_time += time.perf_counter() - t0
        return self._augment(obs), float(reward), terminated, truncated, info

    # ------------------------------------------------------------------ helpers

    def memory_observation(self) -> dict[str, np.ndarray]:
        """The retrieved-episode arrays currently delivered, shaped (copies)."""
        return {key: value.copy() for key, value in self._memory_obs.items()}

    def timing(self) -> dict[str, float]:
        """Seconds spent in the wrapped env and in retrieval (queries and online adds)."""
        return {
            "env_s": self.env_time,
            "retrieval_s": self.retrieval_time,
            "queries": float(self.n_queries),
        }

    def current_episode(self) -> Episode:
        """The episode so far, as an :class:`Episode` (the ``knn`` query's history)."""
        return self._episode()

    def _empty_memory_obs(self) -> dict[str, np.ndarray]:
        return self.encode([])

    def _augment(self, obs: dict[str, Any]) -> dict[str, Any]:
        # fresh copies: the retrieved arrays are reused until the next query, and a caller that
        # keeps or edits one observation (a replay buffer, a frame stack) must not change another
        return {**obs, **{key: value.flatten() for key, value in self._memory_obs.items()}}

    def unflatten(self, obs: dict[str, Any]) -> dict[str, np.ndarray]:
        """The ``mem_*`` keys of an observation, shaped ``(k, L, V, V)`` and ``(k, L)``."""
        k, L, v = self.k, self.steps_per_episode, self.view_size
        out: dict[str, np.ndarray] = {
            key: np.asarray(obs[key]).reshape(k, L) for key in MEMORY_KEYS[1:]
        }
        if self.positions:
            out[POSITION_KEY] = np.asarray(obs[POSITION_KEY]).reshape(k, L, 2)
        return {"mem_views": np.asarray(obs["mem_views"]).reshape(k, L, v, v), **out}

    def _recording(self) -> EpisodeRecorder:
        if self._recorder is None:
            raise RuntimeError("RetrievalObservation: call reset() before step()")
        return self._recorder

    def _episode(self) -> Episode:
        return self._recording().episode(self.env.unwrapped.state)  # type: ignore[attr-defined]

    def _retrieve(self, info: dict[str, Any]) -> None:
        if self.retriever is None or self.memory is None or len(self.memory) == 0:
            self._memory_obs = self._empty_memory_obs()
            return
        t0 = time.perf_counter()
        goal = int(info["goal_type"])
        query = RetrievalQuery(
            maze=int(info["maze"]),
            goal=goal,
            seen=np.asarray(info["seen_objects"], dtype=bool),
            history=self.current_episode() if self.mode == "knn" else None,
            placement=int(info["placement"]),
        )
        episodes = self.retriever.retrieve(query, k=self.k, rng=self._rng)
        self._memory_obs = self.encode(episodes, goal)
        self.retrieval_time += time.perf_counter() - t0
        self.n_queries += 1

    def encode(self, episodes: Sequence[Episode], goal: int | None = None) -> dict[str, np.ndarray]:
        """Shaped ``mem_*`` arrays for up to ``k`` ``episodes``, trimmed to ``L`` steps each.

        ``goal`` is the task's current goal, which the ``"route"`` trim needs.
        """
        return encode_episodes(
            episodes,
            self.k,
            self.steps_per_episode,
            self.view_size,
            self.trim,
            goal,
            positions=self.positions,
        )


def check_trim(trim: str) -> None:
    """Raise ``ValueError`` unless ``trim`` is a :func:`agents.memory.trim_steps` mode we use."""
    if trim not in TRIMS:
        raise ValueError(f"unknown trim {trim!r}; valid: {', '.join(TRIMS)}")


def encode_episodes(
    episodes: Sequence[Episode],
    k: int,
    steps_per_episode: int,
    view_size: int,
    trim: str = "visible",
    goal: int | None = None,
    *,
    positions: bool = False,
) -> dict[str, np.ndarray]:
    """Shaped ``mem_*`` arrays (``(k, L, V, V)``, ``(k, L)``) for up to ``k`` episodes.

    Each episode is cut to ``L = steps_per_episode`` steps by
    :func:`agents.memory.trim_steps` (``trim``: ``"visible"``, each object's first sighting
    then evenly spaced steps with an object in view; ``"uniform"``, evenly spaced steps over
    the whole episode, the path included; ``"route"``, the steps in which ``goal`` (the task's
    current goal) is in view and the steps nearest them in time, i.e. the walk to or from it);
    unused slots are zero (``mem_actions`` = 4), masked out. ``positions=True`` adds
    ``mem_positions`` ``(k, L, 2)``, the ``(row, col)`` of each kept step.

    Raises:
        ValueError: An episode's views are not ``view_size`` x ``view_size``, or ``"route"``
            without a ``goal``.
    """
    episodes = list(episodes)[:k]
    if trim == "route" and goal is None and episodes:
        raise ValueError('trim="route" needs the goal the episodes are trimmed for')
    L, v = steps_per_episode, view_size
    out = {
        "mem_views": np.zeros((k, L, v, v), np.uint8),
        "mem_actions": np.full((k, L), END_ACTION, np.uint8),
        "mem_goals": np.zeros((k, L), np.uint8),
        "mem_mask": np.zeros((k, L), np.uint8),
    }
    if positions:
        out[POSITION_KEY] = np.zeros((k, L, 2), np.uint8)
    for i, episode in enumerate(episodes):
        if episode.views.shape[1:] != (v, v):
            raise ValueError(
                f"retrieved episode has {episode.views.shape[1:]} views but the env observes "
                f"{v}x{v}: the memory holds another env's episodes"
            )
        idx = trim_steps(np.asarray(episode.visible), L, trim, goal=goal)
        n = len(idx)
        out["mem_views"][i, :n] = episode.views[idx]
        actions = np.full(n, END_ACTION, np.uint8)
        has_action = idx < len(episode.actions)
        actions[has_action] = episode.actions[idx[has_action]]
        out["mem_actions"][i, :n] = actions
        out["mem_goals"][i, :n] = episode.goals[idx].astype(np.uint8)
        out["mem_mask"][i, :n] = 1
        if positions:
            out[POSITION_KEY][i, :n] = episode.positions[idx]
    return out


def check_memory_matches(memory: EpisodicMemory, view_size: int, n_object_types: int) -> None:
    """Raise ``ValueError`` unless ``memory`` holds episodes an env of this shape produces.

    Checks the memory's object vocabulary and the view shape of its first stored episode
    (episodes added later are checked when they are retrieved).
    """
    mem_types = getattr(memory, "n_object_types", None)
    if mem_types is not None and int(mem_types) != n_object_types:
        raise ValueError(
            f"memory has n_object_types={mem_types} but the env has {n_object_types}; build "
            f"the memory with EpisodicMemory(n_object_types={n_object_types})"
        )
    if len(memory) > 0:
        shape = tuple(np.shape(memory[0].views)[1:])
        if shape != (view_size, view_size):
            raise ValueError(
                f"memory episodes have {shape[0]}x{shape[1]} views but the env observes "
                f"{view_size}x{view_size} (view_size/full_view differ); fill the memory from an "
                "env with the same view"
            )
