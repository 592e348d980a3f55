"""Train RLlib PPO on a latent-gridworld env, locally or on a Ray cluster.

Locally (starts a Ray instance on this machine)::

    python examples/rllib_ppo.py --env LatentGridworld/Pixel-v0 --iterations 20

On a cluster (``ray start --head`` on the head node, ``ray start --address=HEAD:6379`` on the
others; every node needs ``pip install 'latent-gridworld[ray]'``)::

    python examples/rllib_ppo.py --address HEAD:6379 --num-env-runners 16 --iterations 200

Env runners (the processes that step the envs) are spread over the cluster's CPUs; the learner
runs in this driver process. World options go to ``gym.make`` with ``--kw key=value``
(e.g. ``--kw size=9 --kw n_mazes=16``). The final checkpoint is saved with ``algo.save``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agents import distributed
from latent_gridworld.kwargs import parse_kwargs


@dataclass
class RLlibPPOConfig:
    """What to train, and where.

    Attributes:
        env_id: ``LatentGridworld/Pixel-v0`` (CNN encoder) or ``LatentGridworld/ASCII-v0`` (MLP).
        env_kwargs: ``gym.make`` kwargs for every env (any ``WorldConfig`` field, ``tile_size``).
        address: Ray cluster address (``HOST:PORT``, ``ray://HOST:PORT``, ``auto``); ``None``
            starts a local Ray instance with ``num_cpus`` CPUs.
        num_cpus: CPUs of the local instance (ignored with ``address``).
        num_env_runners: Env-runner actors, one CPU each, in separate processes.
        num_envs_per_env_runner: Envs stepped together inside each runner.
        iterations: Training iterations (each samples ``train_batch_size`` env steps).
        train_batch_size: Env steps per iteration.
        minibatch_size: SGD minibatch size.
        num_epochs: SGD passes per iteration.
        lr: Adam learning rate.
        seed: Seed for env runners and learner.
        checkpoint_dir: Where ``algo.save`` writes the final checkpoint (``None``: not saved).
        connect_timeout_s: Give up connecting to ``address`` after this many seconds.
    """

    env_id: str = "LatentGridworld/Pixel-v0"
    env_kwargs: dict[str, Any] = field(default_factory=lambda: {"size": 9, "n_mazes": 16})
    address: str | None = None
    num_cpus: int | None = None
    num_env_runners: int = 2
    num_envs_per_env_runner: int = 4
    iterations: int = 10
    train_batch_size: int = 2000
    minibatch_size: int = 128
    num_epochs: int = 4
    lr: float = 3e-4
    seed: int = 0
    checkpoint_dir: str | None = None
    connect_timeout_s: float = 30.0


def train(cfg: RLlibPPOConfig) -> list[dict[str, float]]:
    """Run ``cfg.iterations`` PPO iterations; return one summary row per iteration."""
    ray = distributed.connect_ray(
        cfg.address, num_cpus=cfg.num_cpus, timeout_s=cfg.connect_timeout_s
    )
    algo = distributed.ppo_config(
        cfg.env_id,
        cfg.env_kwargs,
        num_env_runners=cfg.num_env_runners,
        num_envs_per_env_runner=cfg.num_envs_per_env_runner,
        train_batch_size=cfg.train_batch_size,
        minibatch_size=cfg.minibatch_size,
        num_epochs=cfg.num_epochs,
        lr=cfg.lr,
        seed=cfg.seed,
    ).build_algo()
    rows: list[dict[str, float]] = []
    try:
        start = time.perf_counter()
        for _ in range(cfg.iterations):
            result = algo.train()
            runners = result["env_runners"]
            row = {
                "iteration": result["training_iteration"],
                "env_steps": runners["num_env_steps_sampled_lifetime"],
                "episode_return_mean": runners.get("episode_return_mean", float("nan")),
                "episode_len_mean": runners.get("episode_len_mean", float("nan")),
                "wall_s": round(time.perf_counter() - start, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
        if cfg.checkpoint_dir:
            path = Path(cfg.checkpoint_dir).resolve()
            algo.save(str(path))
            print(f"checkpoint saved to {path}")
    finally:
        algo.stop()
        if cfg.address is None:
            ray.shutdown()
    return rows


def main(argv: list[str] | None = None) -> int:
    defaults = RLlibPPOConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--env", dest="env_id", default=defaults.env_id, choices=distributed.ENV_IDS
    )
    parser.add_argument("--kw", action="append", default=[], help="gym.make kwarg, key=value")
    parser.add_argument("--address", default=None, help="Ray cluster address; omit to run locally")
    parser.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray instance")
    parser.add_argument("--num-env-runners", type=int, default=defaults.num_env_runners)
    parser.add_argument(
        "--num-envs-per-env-runner", type=int, default=defaults.num_envs_per_env_runner
    )
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument("--train-batch-size", type=int, default=defaults.train_batch_size)
    parser.add_argument("--minibatch-size", type=int, default=defaults.minibatch_size)
    parser.add_argument("--num-epochs", type=int, default=defaults.num_epochs)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--checkpoint-dir", default=None)
    parser.add_argument("--connect-timeout", dest="connect_timeout_s", type=float, default=30.0)
    args = vars(parser.parse_args(argv))
    try:
        kw = parse_kwargs(args.pop("kw"))
    except ValueError as err:
        raise SystemExit(str(err)) from err
    cfg = RLlibPPOConfig(**args, env_kwargs=kw or defaults.env_kwargs)
    print(json.dumps({"config": asdict(cfg)}), flush=True)
    try:
        train(cfg)
    except (ImportError, ConnectionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
