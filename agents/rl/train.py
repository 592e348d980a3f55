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

    python -m agents.rl.train --retrieval oracle --seed 0          # world v1, batched env
    python -m agents.rl.train --retrieval none --seed 0
    python -m agents.rl.train --retrieval none --algo recurrent_ppo --seed 0
    python -m agents.rl.train --preset v0-9x9 --retrieval oracle   # the first results' config

Why one module of this size: it is a CleanRL-style script, the config (about 40 documented
fields and its presets), the command line generated from it and the training loop, read top to
bottom; its helpers (extractor, retrieval wrappers, shaping, evaluation) live in their own
modules.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from argparse import SUPPRESS
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.memory import EpisodicMemory
from agents.rl.config import (  # noqa: F401  (re-exported: moved to agents.rl.config)
    ALGOS,
    MEMORY_FILLS,
    PRESETS,
    SHAPINGS,
    VEC_ENVS,
    TrainConfig,
    algorithm_class,
    build_memory,
)
from agents.rl.evaluate import EVAL_SPLITS, evaluate, make_env
from latent_gridworld.integrity import seal


def train(config: TrainConfig) -> dict[str, Any]:  # noqa: C901 - one readable training loop
    """Train, evaluate on every split, save the checkpoint; returns the results dict."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import VecMonitor

    from agents.rl.extractor import policy_kwargs

    torch.set_num_threads(config.torch_threads)
    out = Path(config.run_dir) / config.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2))

    # ---- memory and envs
    memory = build_memory(config)
    spec = config.env_spec
    inner, timed = build_vec_env(config, memory)
    # episode return/length for SB3's rollout/ep_*_mean curves: the env's own reward, since
    # the shaping (training envs only) wraps the monitor
    venv: Any = VecMonitor(inner)
    if config.reward_shaping == "distance":
        from agents.rl.shaping import VecPotentialShaping

        venv = VecPotentialShaping(venv, gamma=config.gamma, scale=config.shaping_scale)
    venv.seed(config.seed)

    # ---- agent
    kwargs = policy_kwargs(
        features_dim=config.features_dim, d_model=config.d_model, maze_cue=config.maze_input
    )
    policy = "MultiInputPolicy"
    if config.algo == "recurrent_ppo":
        # one LSTM shared by actor and critic over the same extractor's features
        policy = "MultiInputLstmPolicy"
        kwargs.update(
            lstm_hidden_size=config.lstm_hidden,
            n_lstm_layers=1,
            shared_lstm=True,
            enable_critic_lstm=False,
        )
    model = algorithm_class(config.algo)(
        policy,
        venv,
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.n_epochs,
        learning_rate=config.learning_rate,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        clip_range=config.clip_range,
        ent_coef=config.ent_coef,
        policy_kwargs=kwargs,
        tensorboard_log=str(out / "tb"),
        seed=config.seed,
        device="cpu",
        verbose=0,
    )

    curves: list[dict[str, float]] = []
    eval_time = [0.0]
    rollout_time = [0.0]

    class Periodic(BaseCallback):
        """Evaluate every ``eval_every`` steps: TensorBoard, curves.csv, a checkpoint."""

        def __init__(self) -> None:
            super().__init__()
            self.next_eval = 0
            self.rollout_start = 0.0

        def _on_step(self) -> bool:
            return True

        def _on_rollout_start(self) -> None:
            self.rollout_start = time.perf_counter()

        def _on_rollout_end(self) -> None:
            rollout_time[0] += time.perf_counter() - self.rollout_start
            if self.num_timesteps < self.next_eval:
                return
            self.next_eval = self.num_timesteps + config.eval_every
            t0 = time.perf_counter()
            row: dict[str, float] = {"timesteps": float(self.num_timesteps)}
            buffer = self.model.ep_success_buffer
            if buffer:
                row["rollout_success"] = float(np.mean(buffer))
            row["wall_s"] = time.perf_counter() - t_start
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

    t0 = t_start = time.perf_counter()
    model.learn(
        config.total_timesteps,
        callback=Periodic(),
        progress_bar=config.progress_bar,
        tb_log_name=config.algo,
    )
    wall = time.perf_counter() - t0
    model.save(out / "model")
    seal(out / "model.zip")  # whole-file sha256, checked by load_run
    timing = _timing(timed, wall, eval_time[0], rollout_time[0], model.num_timesteps)
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


def build_vec_env(config: TrainConfig, memory: EpisodicMemory) -> tuple[Any, list[Any]]:
    """The training ``VecEnv`` of ``config`` and the objects that count env/retrieval time.

    ``batched``: :class:`~latent_gridworld.sb3.LatentGridworldSB3VecEnv` wrapped in
    :class:`~agents.rl.vec_wrapper.VecRetrieval`; ``dummy``: a ``DummyVecEnv`` of
    :class:`~agents.rl.wrapper.RetrievalObservation` envs.
    """
    spec = config.env_spec
    if config.train_max_steps is not None:
        spec = dataclasses.replace(spec, world={**spec.world, "max_steps": config.train_max_steps})
    online = config.memory_fill in ("online", "both")
    needs_memory = config.retrieval != "none" or online
    if config.vec_env == "batched":
        from agents.rl.vec_wrapper import VecRetrieval
        from latent_gridworld.sb3 import LatentGridworldSB3VecEnv

        base = LatentGridworldSB3VecEnv.from_id(
            config.env_id, num_envs=config.n_envs, **spec.env_kwargs()
        )
        wrapped = VecRetrieval(
            base,
            memory if needs_memory else None,
            config.retrieval,
            k=config.k,
            steps_per_episode=config.steps_per_episode,
            trim=config.trim,
            n_relevant=config.n_relevant,
            n_distractors=config.n_distractors,
            requery=config.requery,
            seed=config.seed * 1000,
        )
        return wrapped, [wrapped]
    from stable_baselines3.common.vec_env import DummyVecEnv

    def env_fn(i: int) -> Callable[[], gym.Env[Any, Any]]:
        return lambda: make_env(
            spec, memory if needs_memory else None, fill_online=online, seed=config.seed * 1000 + i
        )

    dummy = DummyVecEnv([env_fn(i) for i in range(config.n_envs)])
    return dummy, list(dummy.envs)


def _timing(
    timed: Sequence[Any], wall: float, eval_s: float, rollout_s: float, steps: int
) -> dict[str, float]:
    """Where the training wall time went (periodic evaluations excluded).

    ``env_s``: inside the env(s); ``retrieval_s``: memory queries and encoding;
    ``rollout_s``: collecting rollouts (env + retrieval + policy inference + buffer);
    ``update_s``: the rest (PPO's gradient updates, logging).
    """
    env_s = sum(e.env_time for e in timed)
    retrieval_s = sum(e.retrieval_time for e in timed)
    train_wall = wall - eval_s  # periodic evaluations are not training
    return {
        "wall_s": wall,
        "eval_s": eval_s,
        "train_wall_s": train_wall,
        "steps": float(steps),
        "steps_per_s": steps / train_wall,
        "env_s": env_s,
        "retrieval_s": retrieval_s,
        "rollout_s": rollout_s,
        "update_s": train_wall - rollout_s,
        "env_share": env_s / train_wall,
        "retrieval_share": retrieval_s / train_wall,
        "inference_share": (rollout_s - env_s - retrieval_s) / train_wall,
        "update_share": (train_wall - rollout_s) / train_wall,
    }


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    lines = [",".join(keys)] + [",".join(str(row.get(k, "")) for k in keys) for row in rows]
    path.write_text("\n".join(lines) + "\n")


def parse_args(argv: Sequence[str] | None = None) -> TrainConfig:
    """A :class:`TrainConfig` from the command line: ``--preset``, then one ``--flag`` per field.

    Flags left out keep the preset's value (or the field's default); ``--size none`` (any
    optional world field) means "the env id's value".
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="v1")
    types = {
        "int | None": _optional(int),
        "float | None": _optional(float),
        "bool | None": _optional(_bool),
    }
    for f in dataclasses.fields(TrainConfig):
        if f.name == "preset":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=SUPPRESS)
        else:
            kind = types.get(str(f.type), type(default))
            parser.add_argument(flag, type=kind, default=SUPPRESS)
    args = vars(parser.parse_args(argv))
    preset = args.pop("preset")
    return TrainConfig.from_preset(preset, **args)


def _optional(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r} (true/false, or none for the env id's)")


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = parse_args(argv)
    results = train(config)
    summary = {s: round(results[s]["success"], 3) for s in EVAL_SPLITS}
    print(json.dumps({"run": config.name, "success": summary, "timing": results["timing"]}))


if __name__ == "__main__":
    main()
