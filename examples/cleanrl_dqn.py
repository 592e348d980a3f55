"""CleanRL-style single-file DQN on a latent gridworld, with the env as it is.

It imports nothing from ``latent_gridworld``: the ``latent_gridworld:`` prefix of the id makes
Gymnasium import the package (which registers the ids), as CLI tools that import nothing need.
``obs_format="flat"`` gives one float32 ``Box``, so the Q-network is a plain MLP on
``single_observation_space.shape``; the native vector env (``gym.make_vec``'s default for these
ids) steps all envs in numpy. Gymnasium 1.x autoreset (``NEXT_STEP``) is handled: the step after
an episode ends is the reset step, and its transition is not stored.

Smoke test (seconds)::

    python examples/cleanrl_dqn.py --total-timesteps 2000 --learning-starts 500

A longer run, on the pixel id::

    python examples/cleanrl_dqn.py --env-id latent_gridworld:LatentGridworld/Pixel-v0 \\
        --total-timesteps 200000
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """CleanRL's DQN arguments (the ones this example uses), with small defaults."""
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--env-id", default="latent_gridworld:LatentGridworld/ASCII-v0")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--num-envs", type=int, default=4)
    p.add_argument("--total-timesteps", type=int, default=100_000)
    p.add_argument("--learning-rate", type=float, default=2.5e-4)
    p.add_argument("--buffer-size", type=int, default=50_000)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--tau", type=float, default=1.0)
    p.add_argument("--target-network-frequency", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--start-e", type=float, default=1.0)
    p.add_argument("--end-e", type=float, default=0.05)
    p.add_argument("--exploration-fraction", type=float, default=0.5)
    p.add_argument("--learning-starts", type=int, default=10_000)
    p.add_argument("--train-frequency", type=int, default=4)
    p.add_argument("--step-penalty", type=float, default=0.01)
    return p.parse_args(argv)


class QNetwork(nn.Module):
    """An MLP on the flat observation, scaled by the space's upper bounds to about [0, 1]."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        super().__init__()
        space = envs.single_observation_space
        assert isinstance(space, gym.spaces.Box) and space.dtype == np.float32
        n_actions = int(envs.single_action_space.n)  # type: ignore[attr-defined]
        self.register_buffer("scale", torch.as_tensor(np.maximum(space.high, 1.0)))
        self.network = nn.Sequential(
            nn.Linear(int(np.prod(space.shape)), 256),
            nn.ReLU(),
            nn.Linear(256, 128),
            nn.ReLU(),
            nn.Linear(128, n_actions),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale: torch.Tensor = self.scale  # type: ignore[assignment]
        return self.network(x / scale)


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


class ReplayBuffer:
    """A ring buffer of (obs, action, reward, next obs, terminated) rows."""

    def __init__(self, size: int, obs_shape: tuple[int, ...]) -> None:
        self.obs = np.zeros((size, *obs_shape), dtype=np.float32)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros(size, dtype=np.int64)
        self.rewards = np.zeros(size, dtype=np.float32)
        self.dones = np.zeros(size, dtype=np.float32)
        self.size, self.pos, self.full = size, 0, False

    def add(self, obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray,
            rewards: np.ndarray, dones: np.ndarray) -> None:  # fmt: skip
        for i in range(len(obs)):
            self.obs[self.pos], self.next_obs[self.pos] = obs[i], next_obs[i]
            self.actions[self.pos], self.rewards[self.pos] = actions[i], rewards[i]
            self.dones[self.pos] = dones[i]
            self.pos = (self.pos + 1) % self.size
            self.full = self.full or self.pos == 0

    def sample(self, n: int, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        idx = rng.integers(0, self.size if self.full else self.pos, size=n)
        return tuple(
            torch.as_tensor(a[idx])
            for a in (self.obs, self.actions, self.rewards, self.next_obs, self.dones)
        )


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    args = parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    envs: gym.vector.VectorEnv = gym.make_vec(
        args.env_id, num_envs=args.num_envs, obs_format="flat", step_penalty=args.step_penalty
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    assert isinstance(envs.single_action_space, gym.spaces.Discrete)

    q_network = QNetwork(envs)
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate)
    target_network = QNetwork(envs)
    target_network.load_state_dict(q_network.state_dict())
    rb = ReplayBuffer(args.buffer_size, envs.single_observation_space.shape)  # type: ignore[arg-type]

    start_time = time.time()
    obs, _ = envs.reset(seed=args.seed)
    autoreset = np.zeros(args.num_envs, dtype=bool)
    returns: list[float] = []
    successes: list[float] = []
    loss = torch.zeros(())
    global_step = 0
    for iteration in range(args.total_timesteps // args.num_envs):
        global_step = iteration * args.num_envs
        epsilon = linear_schedule(
            args.start_e, args.end_e, int(args.exploration_fraction * args.total_timesteps),
            global_step,
        )  # fmt: skip
        if rng.random() < epsilon:
            actions = envs.action_space.sample()
        else:
            with torch.no_grad():
                actions = q_network(torch.as_tensor(obs)).argmax(dim=1).numpy()
        step: tuple[Any, ...] = envs.step(actions)
        next_obs, rewards, terminations, truncations, infos = step

        if "episode" in infos:
            for i in np.flatnonzero(infos["_episode"]):
                returns.append(float(infos["episode"]["r"][i]))
                successes.append(float(infos["is_success"][i]))

        # NEXT_STEP autoreset: a step of an env that had ended is its reset, not a transition
        keep = ~autoreset
        rb.add(obs[keep], next_obs[keep], actions[keep], rewards[keep], terminations[keep])
        autoreset = np.logical_or(terminations, truncations)
        obs = next_obs

        if global_step > args.learning_starts and iteration % args.train_frequency == 0:
            b_obs, b_actions, b_rewards, b_next, b_dones = rb.sample(args.batch_size, rng)
            with torch.no_grad():
                target_max, _ = target_network(b_next).max(dim=1)
                td_target = b_rewards + args.gamma * target_max * (1 - b_dones)
            old_val = q_network(b_obs).gather(1, b_actions[:, None]).squeeze(1)
            loss = F.mse_loss(td_target, old_val)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if iteration % args.target_network_frequency == 0:
            for tp, qp in zip(target_network.parameters(), q_network.parameters()):
                tp.data.copy_(args.tau * qp.data + (1.0 - args.tau) * tp.data)

    envs.close()
    steps = global_step + args.num_envs
    summary = {
        "steps": float(steps),
        "episodes": float(len(returns)),
        "mean_return_last_20": float(np.mean(returns[-20:])) if returns else float("nan"),
        "success_last_20": float(np.mean(successes[-20:])) if successes else float("nan"),
        "loss": float(loss.detach()),
        "sps": steps / (time.time() - start_time),
    }
    print(" ".join(f"{k}={v:.4g}" for k, v in summary.items()))
    return summary


if __name__ == "__main__":
    main()
