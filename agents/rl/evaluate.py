"""Closed-loop evaluation of a PPO agent on every split, and the env/memory builders it shares.

The protocol: episode ``i`` of a split is ``reset(seed=eval_seed + i)`` of an env made with that
split, so both agents of a pair face the same tasks in the same order, and the retrieval RNG is
seeded by the same seed. Actions are *sampled* from the policy (``deterministic=False``): a
reactive policy with a partial view loops forever when it acts greedily in a spot it cannot
tell apart from another. Success is reaching the goal before the step limit; path efficiency is
``optimal_steps / steps`` on a success and 0 on a failure (so it is never above success).
Tasks whose goal is visible at the start are counted separately as ``trivial``: D9 measured
that on 9x9 mazes a third of latent tasks are of this kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from agents.memory import EpisodicMemory
from agents.rl.wrapper import RetrievalObservation
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.episode import record_episode
from latent_gridworld.expert import expert_action

EVAL_SPLITS: tuple[str, ...] = ("train", "explicit", "latent", "new_maze")


@dataclass(frozen=True)
class EnvSpec:
    """What :func:`make_env` needs: env id, world kwargs, pixel settings, retrieval settings.

    ``world`` holds only the fields that differ from the id's registered kwargs, and
    ``tile_size=None`` keeps the id's tile size (12 px for ``Pixel-v1``).
    """

    world: dict[str, Any]
    tile_size: int | None = 8
    mode: str = "oracle"
    k: int = 3
    steps_per_episode: int = 8
    n_relevant: int = 1
    n_distractors: int = 2
    requery: str = "reset"
    env_id: str = "LatentGridworld/Pixel-v0"
    trim: str = "visible"

    def env_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``gym.make(self.env_id, ...)`` (world + tile size)."""
        kwargs = dict(self.world)
        if self.tile_size is not None:
            kwargs["tile_size"] = self.tile_size
        return kwargs

    def world_config(self) -> WorldConfig:
        """The full :class:`WorldConfig` of this spec (the id's kwargs, then ``world``)."""
        registered = dict(gym.spec(self.env_id).kwargs)
        merged = {**registered, **self.world}
        fields = WorldConfig.__dataclass_fields__
        return WorldConfig(**{k: v for k, v in merged.items() if k in fields})

    @property
    def resolved_tile_size(self) -> int:
        """The tile size in pixels the env renders with."""
        if self.tile_size is not None:
            return int(self.tile_size)
        return int(gym.spec(self.env_id).kwargs.get("tile_size", 8))


def make_env(
    spec: EnvSpec,
    memory: EpisodicMemory | None,
    *,
    split: str = "train",
    fill_online: bool = False,
    seed: int | None = None,
    render_mode: str | None = None,
    **overrides: Any,
) -> RetrievalObservation:
    """A ``spec.env_id`` pixel env of ``split`` wrapped in :class:`RetrievalObservation`.

    ``overrides`` replace fields of ``spec`` (e.g. ``n_relevant=0`` for the distractor-only
    control).
    """
    s = {**spec.__dict__, **overrides}
    kwargs = dict(s["world"])
    if s["tile_size"] is not None:
        kwargs["tile_size"] = s["tile_size"]
    env = gym.make(s["env_id"], render_mode=render_mode, **{**kwargs, "split": split})
    return RetrievalObservation(
        env,
        memory,
        s["mode"],
        k=s["k"],
        steps_per_episode=s["steps_per_episode"],
        trim=s["trim"],
        n_relevant=s["n_relevant"],
        n_distractors=s["n_distractors"],
        requery=s["requery"],
        fill_online=fill_online,
        seed=seed,
    )


def expert_memory(
    world: dict[str, Any],
    n_episodes: int,
    seed: int,
    split: str = "train",
    env_id: str = "LatentGridworld/Pixel-v0",
) -> EpisodicMemory:
    """A memory prefilled with ``n_episodes`` shortest-path expert episodes of ``split``.

    Episode ``i`` is ``reset(seed=seed + i)``: the same memory for the same arguments.
    """
    env = gym.make(env_id, **{**world, "split": split})
    memory = EpisodicMemory.for_world(env.unwrapped.config)  # type: ignore[attr-defined]
    memory.extend(
        [
            record_episode(env, lambda e, _obs: expert_action(e), seed=seed + i)
            for i in range(n_episodes)
        ]
    )
    env.close()
    return memory


def is_recurrent(model: Any) -> bool:
    """Whether ``model`` is an sb3-contrib ``RecurrentPPO`` (its ``predict`` takes LSTM state)."""
    return hasattr(getattr(model, "policy", None), "lstm_hidden_state_shape")


class PolicyStepper:
    """``model.predict`` for any subset of ``n_slots`` episodes run side by side.

    A feed-forward policy is called as is. A recurrent one (``RecurrentPPO``) keeps one LSTM
    state per slot, reset by :meth:`begin` when a slot starts an episode, so episodes that run
    in parallel and finish at different times never share or leak memory.
    """

    def __init__(self, model: Any, n_slots: int, deterministic: bool = False) -> None:
        self.model = model
        self.deterministic = deterministic
        self.recurrent = is_recurrent(model)
        self.starts = np.ones(n_slots, dtype=bool)
        self.state: tuple[np.ndarray, np.ndarray] | None = None
        if self.recurrent:
            layers, _, hidden = model.policy.lstm_hidden_state_shape
            zeros = np.zeros((layers, n_slots, hidden), dtype=np.float32)
            self.state = (zeros, zeros.copy())

    def begin(self, slot: int) -> None:
        """Slot ``slot`` starts a new episode (a recurrent policy forgets its state there)."""
        self.starts[slot] = True

    def act(self, slots: Sequence[int], batch: dict[str, np.ndarray]) -> np.ndarray:
        """Actions for ``slots`` (the rows of ``batch``, in that order)."""
        if self.state is None:
            actions, _ = self.model.predict(batch, deterministic=self.deterministic)
            return np.asarray(actions).reshape(-1)
        idx = np.asarray(slots, dtype=np.int64)
        h, c = self.state
        actions, (h_new, c_new) = self.model.predict(
            batch,
            state=(h[:, idx], c[:, idx]),
            episode_start=self.starts[idx],
            deterministic=self.deterministic,
        )
        h[:, idx], c[:, idx] = h_new, c_new
        self.starts[idx] = False
        return np.asarray(actions).reshape(-1)


def _stack(observations: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {key: np.stack([np.asarray(o[key]) for o in observations]) for key in observations[0]}


def evaluate(
    model: Any,
    spec: EnvSpec,
    memory: EpisodicMemory | None,
    split: str,
    n_episodes: int = 200,
    *,
    eval_seed: int = 1_000_000,
    n_parallel: int = 16,
    deterministic: bool = False,
    **overrides: Any,
) -> dict[str, float]:
    """Success and path efficiency of ``model`` (anything with SB3's ``predict``) on a split.

    Returns:
        ``success``, ``efficiency``, ``steps`` (mean), ``n``, ``trivial_share`` (goal visible
        at the start), ``success_nontrivial`` (success on the other tasks) and ``stderr`` of
        the success rate.
    """
    envs = [
        make_env(spec, memory, split=split, **overrides) for _ in range(min(n_parallel, n_episodes))
    ]
    next_episode = 0
    stepper = PolicyStepper(model, len(envs), deterministic)
    obs: list[dict[str, Any] | None] = [None] * len(envs)
    trivial: list[bool] = [False] * len(envs)
    results: list[tuple[bool, float, int, bool]] = []

    def start(j: int) -> None:
        nonlocal next_episode
        o, info = envs[j].reset(seed=eval_seed + next_episode)
        next_episode += 1
        stepper.begin(j)
        obs[j] = o
        trivial[j] = bool(np.asarray(info["visible_objects"])[int(info["goal_type"])])

    for j in range(len(envs)):
        start(j)
    active = list(range(len(envs)))
    while active:
        batch = _stack([obs[j] for j in active])  # type: ignore[misc]
        actions = stepper.act(active, batch)
        still = []
        for j, action in zip(active, actions):
            o, _, terminated, truncated, info = envs[j].step(int(action))
            obs[j] = o
            if terminated or truncated:
                steps = int(envs[j].unwrapped.state.steps)  # type: ignore[attr-defined]
                ok = bool(info["is_success"])
                eff = info["optimal_steps"] / max(steps, 1) if ok else 0.0
                results.append((ok, float(eff), steps, trivial[j]))
                if next_episode < n_episodes:
                    start(j)
                    still.append(j)
            else:
                still.append(j)
        active = still
    for env in envs:
        env.close()
    success = np.array([r[0] for r in results], dtype=np.float64)
    triv = np.array([r[3] for r in results], dtype=bool)
    return {
        "success": float(success.mean()),
        "efficiency": float(np.mean([r[1] for r in results])),
        "steps": float(np.mean([r[2] for r in results])),
        "n": float(len(results)),
        "trivial_share": float(triv.mean()),
        "success_nontrivial": float(success[~triv].mean()) if (~triv).any() else float("nan"),
        "stderr": float(success.std(ddof=0) / np.sqrt(max(len(results), 1))),
    }
