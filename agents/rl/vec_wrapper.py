"""``VecRetrieval``: the retrieval wrapper for the batched SB3 vector env.

:class:`~agents.rl.wrapper.RetrievalObservation` wraps one Gymnasium env and queries the memory
at its reset. The batched env (:class:`latent_gridworld.sb3.LatentGridworldSB3VecEnv`) has no
per-env object to wrap, so this is an SB3 ``VecEnvWrapper`` instead: after each batched step it
queries the memory only for the envs whose episode just ended (and were reset in the same step),
from the batched env's info arrays (maze, goal, objects seen), and writes their ``mem_*`` rows
into one batched buffer. Observations are then the batched env's arrays plus copies of that
buffer, with the same keys, shapes and values as a ``DummyVecEnv`` of ``RetrievalObservation``
envs given the same seeds (``tests/test_rl.py`` checks it step by step).

Why it is fast: the memory of a training run is fixed (``memory_fill="prefill"``), so every
episode is trimmed and encoded once (:meth:`VecRetrieval.encoded`, cached by memory id); a query
is then the retriever's id draw plus a gather of cached rows. Each env keeps its own retrieval
generator, seeded as the single-env wrapper seeds it (``seed(s)`` gives env ``i`` the seed
``s + i``), so both paths draw the same episodes.

Not supported here (use the ``DummyVecEnv`` path, ``--vec-env dummy``): ``knn`` retrieval (its
query needs the episode so far) and online filling (it needs each env's trajectory).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn, VecEnvWrapper

from agents.memory import EpisodicMemory, RetrievalQuery, make_retriever
from agents.rl.wrapper import (
    REQUERY,
    check_retrieval_inputs,
    check_trim,
    encode_episodes,
    memory_space,
)
from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

VEC_MODES: tuple[str, ...] = ("oracle", "none")


class VecRetrieval(VecEnvWrapper):
    """Add ``k`` retrieved, trimmed episodes to every observation of a batched SB3 env.

    Args:
        venv: A :class:`~latent_gridworld.sb3.LatentGridworldSB3VecEnv` (Dict observations).
        memory: The memory to retrieve from (required for ``oracle``).
        mode: ``"oracle"`` or ``"none"`` (the baseline: keys present, all masked).
        k: Retrieved episodes per query.
        steps_per_episode: ``L``, steps kept per retrieved episode.
        n_relevant: Relevant episodes per oracle query.
        n_distractors: Distractor episodes per oracle query.
        requery: ``"reset"`` or ``"goal_change"`` (also query when an ICL goal is announced).
        seed: Seed of the retrieval generators (env ``i`` gets ``seed + i``); ``seed()`` and
            seeded resets re-seed them, as ``RetrievalObservation.reset(seed=...)`` does.
        trim: Which steps of a retrieved episode are kept (``visible``, ``uniform`` or
            ``route``: see :func:`~agents.rl.wrapper.encode_episodes`).

    Raises:
        ValueError: Unknown mode or requery, no memory for ``oracle``, a memory that does not
            match the env, or an env that is not the batched latent-gridworld adapter.
    """

    def __init__(
        self,
        venv: LatentGridworldSB3VecEnv,
        memory: EpisodicMemory | None,
        mode: str = "oracle",
        *,
        k: int = 3,
        steps_per_episode: int = 8,
        n_relevant: int = 1,
        n_distractors: int = 2,
        requery: str = "reset",
        seed: int | None = None,
        trim: str = "visible",
    ) -> None:
        if not isinstance(venv, LatentGridworldSB3VecEnv):
            raise ValueError(
                "VecRetrieval wraps latent_gridworld.sb3.LatentGridworldSB3VecEnv (it reads the "
                f"batched info); got {type(venv).__name__}: wrap single envs in "
                "agents.rl.RetrievalObservation instead"
            )
        if mode not in VEC_MODES:
            raise ValueError(
                f"unknown retrieval mode {mode!r} for the batched env; valid: "
                f"{', '.join(VEC_MODES)} (knn needs the episode so far: use RetrievalObservation "
                "in a DummyVecEnv)"
            )
        if requery not in REQUERY:
            raise ValueError(f"unknown requery {requery!r}; valid: {', '.join(REQUERY)}")
        check_trim(trim)
        if k < 1 or steps_per_episode < 1:
            raise ValueError(f"k and steps_per_episode must be >= 1, got {k}, {steps_per_episode}")
        config = venv.venv.config
        base_space = venv.observation_space
        if not isinstance(base_space, spaces.Dict) or "goal" not in base_space.spaces:
            raise ValueError(
                "VecRetrieval needs the batched env's Dict observations (obs_format='dict')"
            )
        self.view_size, self.n_object_types = check_retrieval_inputs(
            config, base_space, memory, f"mode {mode!r}" if mode != "none" else ""
        )
        self.memory = memory
        self.mode = mode
        self.k = k
        self.steps_per_episode = steps_per_episode
        self.trim = trim
        self.requery = requery
        self.retriever = (
            make_retriever(mode, memory, n_relevant=n_relevant, n_distractors=n_distractors)
            if mode != "none"
            else None
        )
        self.positions = "position" in base_space.spaces
        space = memory_space(base_space, k * steps_per_episode, self.view_size, self.n_object_types)
        super().__init__(venv, observation_space=space)
        self._batched = venv
        empty = encode_episodes([], k, steps_per_episode, self.view_size, positions=self.positions)
        self._empty = {key: value.reshape(-1) for key, value in empty.items()}
        self._mem = {key: np.tile(value, (self.num_envs, 1)) for key, value in self._empty.items()}
        self._rngs = [
            np.random.default_rng(None if seed is None else seed + i) for i in range(self.num_envs)
        ]
        self._pending_seeds: list[int | None] | None = None
        self._goals = np.zeros(self.num_envs, dtype=np.int64)
        # by (episode id, goal): the "route" trim depends on the goal, the others do not (-1)
        self._cache: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        # wall-clock accounting (seconds): inside the batched env, and inside retrieval
        self.env_time = 0.0
        self.retrieval_time = 0.0
        self.n_queries = 0

    # ------------------------------------------------------------------ VecEnv API

    def seed(self, seed: int | None = None) -> Any:
        """Seed the batched env and, at the next reset, the retrieval generators (``seed + i``)."""
        self._pending_seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        return self.venv.seed(seed)

    def reset(self) -> VecEnvObs:
        """Reset every env and retrieve for every new task."""
        if self._pending_seeds is not None:
            self._rngs = [
                rng if s is None else np.random.default_rng(s)
                for rng, s in zip(self._rngs, self._pending_seeds)
            ]
            self._pending_seeds = None
        t0 = time.perf_counter()
        obs = self.venv.reset()
        self.env_time += time.perf_counter() - t0
        info = self._batched.batched_info
        self._goals = np.asarray(info["goal_type"], dtype=np.int64).copy()
        self._retrieve(np.arange(self.num_envs), info)
        return self._augment(obs)

    def step_async(self, actions: np.ndarray) -> None:
        """Pass the actions on."""
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        """Step; finished envs get their terminal observation's ``mem_*`` and a new query."""
        t0 = time.perf_counter()
        obs, rewards, dones, infos = self.venv.step_wait()
        self.env_time += time.perf_counter() - t0
        info = self._batched.batched_info
        done_idx = np.flatnonzero(dones)
        for i in done_idx:
            terminal = infos[i].get("terminal_observation")
            if isinstance(terminal, dict):
                terminal.update({key: value[i].copy() for key, value in self._mem.items()})
        goals = np.asarray(info["goal_type"], dtype=np.int64)
        if self.requery == "goal_change":
            changed = np.flatnonzero((goals != self._goals) & ~dones)
            query = np.union1d(done_idx, changed)
        else:
            query = done_idx
        self._goals = goals.copy()
        self._retrieve(query, info)
        return self._augment(obs), rewards, dones, infos

    # ------------------------------------------------------------------ helpers

    def timing(self) -> dict[str, float]:
        """Seconds spent in the batched env and in retrieval, and the number of queries."""
        return {
            "env_s": self.env_time,
            "retrieval_s": self.retrieval_time,
            "queries": float(self.n_queries),
        }

    def encoded(self, episode_id: int, goal: int) -> dict[str, np.ndarray]:
        """The flat ``mem_*`` rows of one memory episode trimmed for ``goal`` (encoded once)."""
        key = (episode_id, goal if self.trim == "route" else -1)
        rows = self._cache.get(key)
        if rows is None:
            assert self.memory is not None
            one = encode_episodes(
                [self.memory[episode_id]],
                1,
                self.steps_per_episode,
                self.view_size,
                self.trim,
                goal,
                positions=self.positions,
            )
            rows = self._cache[key] = {name: value.reshape(-1) for name, value in one.items()}
        return rows

    def _augment(self, obs: VecEnvObs) -> dict[str, np.ndarray]:
        assert isinstance(obs, dict)
        # copies: the buffer is overwritten in place at the next query
        return {**obs, **{key: value.copy() for key, value in self._mem.items()}}

    def _retrieve(self, idx: np.ndarray, info: dict[str, Any]) -> None:
        if len(idx) == 0 or self.retriever is None or self.memory is None:
            return
        if len(self.memory) == 0:
            for key, value in self._empty.items():
                self._mem[key][idx] = value
            return
        t0 = time.perf_counter()
        widths = {key: value.shape[0] // self.k for key, value in self._empty.items()}
        for i in idx.tolist():
            query = RetrievalQuery(
                maze=int(info["maze"][i]),
                goal=int(info["goal_type"][i]),
                seen=np.asarray(info["seen_objects"][i], dtype=bool),
                placement=int(info["placement"][i]),
            )
            ids = self.retriever.retrieve_ids(query, k=self.k, rng=self._rngs[i])
            for key, value in self._empty.items():
                self._mem[key][i] = value
            for j, episode_id in enumerate(ids[: self.k].tolist()):
                rows = self.encoded(int(episode_id), query.goal)
                for key, width in widths.items():
                    self._mem[key][i, j * width : (j + 1) * width] = rows[key]
            self.n_queries += 1
        self.retrieval_time += time.perf_counter() - t0
