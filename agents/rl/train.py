"""Train one PPO agent of the pair (retrieval ``oracle``/``knn``, or the ``none`` baseline).

CleanRL-like: every knob is a field of :class:`TrainConfig`, the command line is generated
from it, and :func:`train` reads top to bottom. A run writes to ``<run_dir>/<name>/``:

- ``config.json``: the config;
- ``tb/``: TensorBoard curves (SB3's ``rollout/*``, ``train/*``, and ``eval/<split>/*``);
- ``curves.csv``: the periodic evaluations (for plots without TensorBoard);
- ``model.zip``: the final checkpoint (``checkpoint.zip`` is the latest periodic one);
- ``memory.npz``: the memory at the end of training (the evaluation memory; see
  :meth:`agents.memory.EpisodicMemory.load`);
- ``results.json``: final success/efficiency on every split, timing (steps/s, share of wall
  time in the env and in retrieval).

Usage::

    python -m agents.rl.train --retrieval oracle --seed 0
    python -m agents.rl.train --retrieval none --seed 0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.memory import EpisodicMemory
from agents.rl.evaluate import EVAL_SPLITS, EnvSpec, evaluate, expert_memory, make_env
from agents.rl.wrapper import MODES
from latent_gridworld.integrity import seal

MEMORY_FILLS: tuple[str, ...] = ("prefill", "online", "both")


@dataclass
class TrainConfig:
    """Every knob of a PPO run. Both agents of a pair differ only in ``retrieval``.

    Attributes:
        retrieval: ``oracle``, ``knn`` or ``none`` (the baseline: same network, keys masked).
        seed: Seeds PPO, the envs, and the prefilled memory.
        total_timesteps: Env steps of training (summed over ``n_envs``).
        n_envs: Parallel envs (``DummyVecEnv``: one process, so an online memory is shared).
        n_steps: Rollout length per env.
        batch_size: PPO minibatch size (64: 32 gradient steps per 1024-step rollout and epoch;
            with 256, 100k steps gave 800 gradient steps and no learning at 37k steps).
        n_epochs: PPO epochs per rollout.
        learning_rate: Adam learning rate.
        gamma: Discount.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range.
        ent_coef: Entropy bonus.
        size: Maze side (border included).
        n_mazes: Training-pool mazes.
        max_steps: Episode step limit.
        view_size: Side of the partial view.
        icl_share: Share of within-episode ICL training episodes.
        tile_size: Pixels per cell of the observed image.
        k: Retrieved episodes per query.
        steps_per_episode: Steps kept per retrieved episode.
        n_relevant: Relevant episodes per oracle query.
        n_distractors: Distractor episodes per oracle query.
        requery: ``reset`` or ``goal_change`` (also query when an ICL goal is announced).
        memory_fill: ``prefill`` (expert episodes of the train split, fixed), ``online`` (the
            agent's own finished episodes, starting empty) or ``both``.
        prefill_episodes: Expert episodes in a prefilled memory.
        features_dim: Extractor output size.
        d_model: Extractor width.
        eval_every: Env steps between periodic evaluations (learning curves).
        eval_episodes: Episodes per split in a periodic evaluation.
        final_eval_episodes: Episodes per split in the final evaluation.
        eval_seed: First reset seed of evaluation episodes.
        run_dir: Parent folder of runs.
        name: Run folder name (default ``<retrieval>_s<seed>``).
        torch_threads: Torch intra-op threads (1: the machine is shared).
        progress_bar: Show SB3's progress bar.
    """

    retrieval: str = "oracle"
    seed: int = 0
    total_timesteps: int = 100_000
    n_envs: int = 8
    n_steps: int = 128
    batch_size: int = 64
    n_epochs: int = 2
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    size: int = 9
    n_mazes: int = 8
    max_steps: int = 64
    view_size: int = 5
    icl_share: float = 0.0
    tile_size: int = 8
    k: int = 3
    steps_per_episode: int = 8
    n_relevant: int = 1
    n_distractors: int = 2
    requery: str = "reset"
    memory_fill: str = "prefill"
    prefill_episodes: int = 256
    features_dim: int = 128
    d_model: int = 64
    eval_every: int = 12_500
    eval_episodes: int = 40
    final_eval_episodes: int = 200
    eval_seed: int = 1_000_000
    run_dir: str = "runs/rl"
    name: str = ""
    torch_threads: int = 1
    progress_bar: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retrieval not in MODES:
            raise ValueError(f"unknown retrieval {self.retrieval!r}; valid: {', '.join(MODES)}")
        if self.memory_fill not in MEMORY_FILLS:
            raise ValueError(
                f"unknown memory_fill {self.memory_fill!r}; valid: {', '.join(MEMORY_FILLS)}"
            )
        if not self.name:
            self.name = f"{self.retrieval}_s{self.seed}"

    @property
    def world(self) -> dict[str, Any]:
        """World kwargs of the env."""
        return {
            "size": self.size,
            "n_mazes": self.n_mazes,
            "max_steps": self.max_steps,
            "view_size": self.view_size,
            "icl_share": self.icl_share,
            **self.extra,
        }

    @property
    def env_spec(self) -> EnvSpec:
        """The env/retrieval settings shared by training and evaluation."""
        return EnvSpec(
            world=self.world,
            tile_size=self.tile_size,
            mode=self.retrieval,
            k=self.k,
            steps_per_episode=self.steps_per_episode,
            n_relevant=self.n_relevant,
            n_distractors=self.n_distractors,
            requery=self.requery,
        )


def build_memory(config: TrainConfig) -> EpisodicMemory:
    """The memory a run starts with: expert episodes (``prefill``/``both``) or empty."""
    if config.memory_fill == "online":
        from latent_gridworld.core.config import WorldConfig

        return EpisodicMemory(n_object_types=WorldConfig(**config.world).n_object_types)
    return expert_memory(config.world, config.prefill_episodes, seed=10_000 * (config.seed + 1))


def train(config: TrainConfig) -> dict[str, Any]:  # noqa: C901 - one readable training loop
    """Train, evaluate on every split, save the checkpoint; returns the results dict."""
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from agents.rl.extractor import policy_kwargs

    torch.set_num_threads(config.torch_threads)
    out = Path(config.run_dir) / config.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))

    # ---- memory and envs
    memory = build_memory(config)
    spec = config.env_spec
    online = config.memory_fill in ("online", "both")
    needs_memory = config.retrieval != "none" or online

    def env_fn(i: int) -> Callable[[], gym.Env[Any, Any]]:
        return lambda: make_env(
            spec, memory if needs_memory else None, fill_online=online, seed=config.seed * 1000 + i
        )

    dummy = DummyVecEnv([env_fn(i) for i in range(config.n_envs)])
    venv = VecMonitor(dummy)  # episode return/length for SB3's rollout/ep_*_mean curves
    venv.seed(config.seed)

    # ---- agent
    model = PPO(
        "MultiInputPolicy",
        venv,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        learning_rate=config.learning_rate,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        policy_kwargs=policy_kwargs(features_dim=config.features_dim, d_model=config.d_model),
        tensorboard_log=str(out / "tb"),
        seed=config.seed,
        device="cpu",
        verbose=0,
    )

    curves: list[dict[str, float]] = []
    eval_time = [0.0]

    class Periodic(BaseCallback):
        """Evaluate every ``eval_every`` steps: TensorBoard, curves.csv, a checkpoint."""

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = 0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if self.num_timesteps < self.next_eval:
                return
            self.next_eval = self.num_timesteps + config.eval_every
            t0 = time.perf_counter()
            row: dict[str, float] = {"timesteps": float(self.num_timesteps)}
            buffer = self.model.ep_success_buffer
            if buffer:
                row["rollout_success"] = float(np.mean(buffer))
            for split in EVAL_SPLITS:
                r = evaluate(
                    self.model,
                    spec,
                    memory if config.retrieval != "none" else None,
                    split,
                    config.eval_episodes,
                    eval_seed=config.eval_seed + 500_000,  # not the final evaluation's tasks
                )
                for key in ("success", "efficiency"):
                    self.logger.record(f"eval/{split}/{key}", r[key])
                    row[f"{split}_{key}"] = r[key]
            curves.append(row)
            _write_csv(out / "curves.csv", curves)
            self.model.save(out / "checkpoint")
            eval_time[0] += time.perf_counter() - t0

    t0 = time.perf_counter()
    model.learn(
        config.total_timesteps,
        callback=Periodic(),
        progress_bar=config.progress_bar,
        tb_log_name="ppo",
    )
    wall = time.perf_counter() - t0
    model.save(out / "model")
    seal(out / "model.zip")  # whole-file sha256, checked by load_run
    timing = _timing(dummy, wall, eval_time[0], model.num_timesteps)
    venv.close()

    # ---- final evaluation on every split (same memory, same tasks for both agents)
    eval_memory = memory if config.retrieval != "none" else None
    results: dict[str, Any] = {"config": dataclasses.asdict(config), "timing": timing}
    for split in EVAL_SPLITS:
        results[split] = evaluate(
            model, spec, eval_memory, split, config.final_eval_episodes, eval_seed=config.eval_seed
        )
    if config.retrieval == "oracle":
        # the control that shows whether retrieved content is used (D9): distractors only
        results["latent_distractors_only"] = evaluate(
            model,
            spec,
            eval_memory,
            "latent",
            config.final_eval_episodes,
            eval_seed=config.eval_seed,
            n_relevant=0,
            n_distractors=config.k,
        )
    results["memory_size"] = len(memory)
    memory.save(out / "memory.npz", overwrite=True)  # this run's own folder
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def _timing(venv: Any, wall: float, eval_s: float, steps: int) -> dict[str, float]:
    env_s = sum(e.env_time for e in venv.envs)
    retrieval_s = sum(e.retrieval_time for e in venv.envs)
    train_wall = wall - eval_s  # periodic evaluations are not training
    return {
        "wall_s": wall,
        "eval_s": eval_s,
        "train_wall_s": train_wall,
        "steps": float(steps),
        "steps_per_s": steps / train_wall,
        "env_s": env_s,
        "retrieval_s": retrieval_s,
        "env_share": env_s / train_wall,
        "retrieval_share": retrieval_s / train_wall,
    }


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(keys)] + [",".join(str(row.get(k, "")) for k in keys) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from the command line (one ``--flag`` per field)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for f in dataclasses.fields(TrainConfig):
        if f.name == "extra":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default)
        else:
            parser.add_argument(flag, type=type(default), default=default)
    return TrainConfig(**vars(parser.parse_args(argv)))


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = parse_args(argv)
    results = train(config)
    summary = {s: round(results[s]["success"], 3) for s in EVAL_SPLITS}
    print(json.dumps({"run": config.name, "success": summary, "timing": results["timing"]}))


if __name__ == "__main__":
    main()
