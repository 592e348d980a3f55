"""Closed-loop evaluation: run an agent in the ASCII env on a split; success and efficiency.

Every agent is evaluated on the *same* tasks for a given ``(split, seed)``: task ``i`` is the
env's ``reset(seed=seed * 100_003 + i)`` on that split, so comparisons between agents are
paired. Success is the env's own: the episode terminates at the goal before the env's step
budget truncates it (``info["is_success"]``; world v1: ``floor(1.5 * shortest + 2)`` steps,
set by ``WorldConfig.budget_scale`` / ``budget_offset``), so an agent trained through
``gym.make`` faces exactly the test these numbers report. Path efficiency is SPL-like:
``shortest / steps`` for a success, 0 for a failure, averaged over tasks.

It is the one evaluator of every agent the benchmark reports (the BC pair, the PPO pair
through its adapter, the scripted references, third-party agents), so its floor is below
all of them (``tools/check_imports.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.protocol import Agent, BatchAgent, check_action
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.envs.gridworld import LatentGridworldEnv


@dataclass
class EvalResult:
    """Per-task outcomes of one agent on one split.

    Attributes:
        split: The split.
        success: ``(n,)`` bool, goal reached within the budget.
        efficiency: ``(n,)`` shortest / steps for successes, 0 for failures.
        trivial: ``(n,)`` bool, the goal was in view at the start.
        steps: ``(n,)`` steps taken.
        optimal: ``(n,)`` shortest-path steps of each task.
    """

    split: str
    success: np.ndarray
    efficiency: np.ndarray
    trivial: np.ndarray
    steps: np.ndarray
    optimal: np.ndarray

    @property
    def success_rate(self) -> float:
        """Share of successes."""
        return float(self.success.mean()) if len(self.success) else float("nan")


def make_env(world: WorldConfig, split: str) -> LatentGridworldEnv:
    """An ASCII env of ``world`` on ``split`` without ICL episodes."""
    kwargs = {f: getattr(world, f) for f in world.__dataclass_fields__}
    kwargs.update(split=split, icl_share=0.0)
    return LatentGridworldEnv(obs_mode="ascii", **kwargs)


def evaluate_agent(
    agent: Agent | BatchAgent,
    world: WorldConfig,
    split: str,
    n_tasks: int,
    seed: int,
) -> EvalResult:
    """Run ``agent`` on ``n_tasks`` tasks of ``split`` (closed loop, in the env)."""
    envs = [make_env(world, split) for _ in range(n_tasks)]
    obs, infos = [], []
    for i, env in enumerate(envs):
        o, info = env.reset(seed=seed * 100_003 + i)
        obs.append(o)
        infos.append(info)
    optimal = np.array([int(i["optimal_steps"]) for i in infos])
    trivial = np.array([bool(i["visible_objects"][i["goal_type"]]) for i in infos])
    steps = np.zeros(n_tasks, dtype=np.int64)
    success = np.zeros(n_tasks, dtype=bool)
    active = np.ones(n_tasks, dtype=bool)

    if isinstance(agent, BatchAgent):
        agent.reset_batch(obs, infos)
        while active.any():
            slots = np.flatnonzero(active)
            actions = agent.act_batch(
                slots.tolist(), [obs[i] for i in slots], [infos[i] for i in slots]
            )
            for slot, a in zip(slots.tolist(), actions, strict=True):
                _advance(envs, obs, infos, steps, success, active, slot, check_action(a))
    else:
        for i in range(n_tasks):
            agent.reset(obs[i], infos[i])
            while active[i]:
                a = check_action(agent.act(obs[i], infos[i]))
                _advance(envs, obs, infos, steps, success, active, i, a)
    efficiency = np.where(success, optimal / np.maximum(steps, 1), 0.0)
    return EvalResult(split, success, efficiency, trivial, steps, optimal)


def _advance(
    envs: Sequence[LatentGridworldEnv],
    obs: list[Any],
    infos: list[Any],
    steps: np.ndarray,
    success: np.ndarray,
    active: np.ndarray,
    i: int,
    action: int,
) -> None:
    o, _, terminated, truncated, info = envs[i].step(action)
    obs[i], infos[i] = o, info
    steps[i] += 1
    success[i] = bool(info["is_success"])
    if terminated or truncated:
        active[i] = False


def mean_ci(values: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """Mean and the half-width of its normal-approximation 95% interval (t for few values).

    With one value the half-width is NaN (no spread to estimate).

    >>> [round(x, 3) for x in mean_ci([0.5, 0.7, 0.6])]
    [0.6, 0.248]
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float(v.mean()) if len(v) else float("nan"), float("nan")
    # Student t quantiles for 95%: few seeds make the normal interval too narrow
    t = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}
    q = t.get(len(v), z)
    return float(v.mean()), float(q * v.std(ddof=1) / np.sqrt(len(v)))


def binomial_ci(successes: np.ndarray, z: float = 1.96) -> tuple[float, float]:
    """Mean and 95% normal half-width of a share over tasks (one seed's sampling noise)."""
    s = np.asarray(successes, dtype=float)
    p = float(s.mean()) if len(s) else float("nan")
    return p, float(z * np.sqrt(max(p * (1 - p), 1e-12) / max(len(s), 1)))
