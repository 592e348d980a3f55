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
ALGOS: tuple[str, ...] = ("ppo", "recurrent_ppo")
VEC_ENVS: tuple[str, ...] = ("batched", "dummy")
# ``distance``: agents.rl.shaping.VecPotentialShaping (imported lazily: it imports SB3/torch)
SHAPINGS: tuple[str, ...] = ("none", "distance")

# Named starting points of a config; command-line flags override them. ``v1`` is the default
# world (``LatentGridworld/Pixel-v1``: radial-arm mazes, 3x3 view, the env's own step budget);
# ``v0-9x9`` is the config of the first PPO results (docs/results.md), kept so they reproduce.
PRESETS: dict[str, dict[str, Any]] = {
    "v1": {
        "env_id": "LatentGridworld/Pixel-v1",
        "total_timesteps": 2_000_000,
        "n_envs": 16,
        "n_steps": 128,
        "batch_size": 256,
        "n_epochs": 2,
        "eval_every": 100_000,
        "eval_episodes": 50,
        "final_eval_episodes": 300,
        # measured at 1M steps, baseline, seed 0 (docs/results.md): explicit 0.007 with
        # neither, 0.167 with the 64-step limit alone, 0.163 with shaping alone, 0.32 with both
        "train_max_steps": 64,
        "reward_shaping": "distance",
    },
    "v0-9x9": {
        "env_id": "LatentGridworld/Pixel-v0",
        "size": 9,
        "n_mazes": 8,
        "max_steps": 64,
        "view_size": 5,
        "icl_share": 0.0,
        "tile_size": 8,
        "total_timesteps": 100_000,
        "n_envs": 8,
        "n_steps": 128,
        "batch_size": 64,
        "n_epochs": 2,
        "eval_every": 12_500,
        "eval_episodes": 40,
        "final_eval_episodes": 200,
        "train_max_steps": None,
        "vec_env": "dummy",
        "maze_input": False,
    },
}


@dataclass
class TrainConfig:
    """Every knob of a PPO run. Both agents of a pair differ only in ``retrieval``.

    Build one with :meth:`from_preset` (``v1``, the default world, or ``v0-9x9``, the first
    results' config); the field defaults are the ``v1`` ones except where noted.

    Attributes:
        retrieval: ``oracle``, ``knn`` or ``none`` (the baseline: same network, keys masked).
        seed: Seeds PPO, the envs, and the prefilled memory.
        algo: ``ppo`` (SB3 PPO, reactive) or ``recurrent_ppo`` (sb3-contrib ``RecurrentPPO``,
            an LSTM over the same extractor's features: memory within an episode).
        vec_env: ``batched`` (:class:`~latent_gridworld.sb3.LatentGridworldSB3VecEnv` +
            :class:`~agents.rl.vec_wrapper.VecRetrieval`, numpy-batched) or ``dummy``
            (``DummyVecEnv`` of :class:`~agents.rl.wrapper.RetrievalObservation` envs; needed
            for ``knn`` and online filling). Both give the same transitions for the same seeds.
        env_id: The registered pixel env id the world starts from.
        total_timesteps: Env steps of training (summed over ``n_envs``).
        n_envs: Parallel envs.
        n_steps: Rollout length per env.
        batch_size: PPO minibatch size.
        n_epochs: PPO epochs per rollout.
        learning_rate: Adam learning rate.
        gamma: Discount.
        gae_lambda: GAE lambda.
        clip_range: PPO clip range.
        ent_coef: Entropy bonus.
        size: Maze side (border included); ``None``: the id's.
        n_mazes: Training-pool mazes; ``None``: the id's.
        max_steps: Episode step limit; ``None``: the id's (v1: the per-goal budget).
        view_size: Side of the partial view; ``None``: the id's.
        icl_share: Share of within-episode ICL training episodes; ``None``: the id's.
        tile_size: Pixels per cell of the observed image; ``None``: the id's (v1: 12).
        train_max_steps: Step limit of the *training* envs only (``None``: the world's own).
            Evaluation always uses the world's budget. v1's budget (1.5 x shortest + 2) never
            pays a random walk (0 successes in 3,082 random train episodes, measured), so PPO
            would see no reward; at 200 steps a random walk succeeds 1.4% of the time. 64
            (v1) gives 3x the episodes, hence starts, of 200 and learnt faster (measured).
        reward_shaping: ``none`` or ``distance``: potential-based shaping of the *training*
            envs' reward (:class:`~agents.rl.shaping.VecPotentialShaping`, ``Phi = -shortest
            distance to the current goal / shaping_scale``, discounted with ``gamma``), which
            leaves the optimal policies unchanged. Evaluation is never shaped. Needs
            ``vec_env="batched"``. The field default is ``none``; the ``v1`` preset has
            ``distance``.
        shaping_scale: Steps per unit of potential.
        maze_input: The extractor embeds the env's maze cue (``obs["maze"]``; v1 has it, v0
            does not). Without it a memoryless policy cannot tell mazes apart from the hub.
        k: Retrieved episodes per query.
        steps_per_episode: Steps kept per retrieved episode.
        trim: Which steps are kept: ``visible`` (object sightings first; in v1 none of them is
            in the hub room, where the latent decision is made) or ``uniform`` (evenly spaced
            over the whole episode, the path through the hub included).
        n_relevant: Relevant episodes per oracle query.
        n_distractors: Distractor episodes per oracle query.
        requery: ``reset`` or ``goal_change`` (also query when an ICL goal is announced).
        memory_fill: ``prefill`` (expert episodes of the train split, fixed), ``online`` (the
            agent's own finished episodes, starting empty) or ``both``.
        prefill_episodes: Expert episodes in a prefilled memory.
        features_dim: Extractor output size.
        d_model: Extractor width.
        lstm_hidden: LSTM width of ``recurrent_ppo``.
        eval_every: Env steps between periodic evaluations (learning curves).
        eval_episodes: Episodes per split in a periodic evaluation.
        final_eval_episodes: Episodes per split in the final evaluation.
        eval_seed: First reset seed of evaluation episodes.
        run_dir: Parent folder of runs.
        name: Run folder name (default ``<retrieval>_s<seed>``, ``lstm_<retrieval>_s<seed>``
            for ``recurrent_ppo``).
        torch_threads: Torch intra-op threads (1: the machine is shared).
        progress_bar: Show SB3's progress bar.
        preset: The preset this config was built from (recorded, not applied).
    """

    retrieval: str = "oracle"
    seed: int = 0
    algo: str = "ppo"
    vec_env: str = "batched"
    env_id: str = "LatentGridworld/Pixel-v1"
    total_timesteps: int = 2_000_000
    n_envs: int = 16
    n_steps: int = 128
    batch_size: int = 256
    n_epochs: int = 2
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    ent_coef: float = 0.01
    size: int | None = None
    n_mazes: int | None = None
    max_steps: int | None = None
    view_size: int | None = None
    icl_share: float | None = None
    tile_size: int | None = None
    train_max_steps: int | None = 64
    reward_shaping: str = "none"
    shaping_scale: float = 10.0
    maze_input: bool = True
    k: int = 3
    steps_per_episode: int = 8
    trim: str = "visible"
    n_relevant: int = 1
    n_distractors: int = 2
    requery: str = "reset"
    memory_fill: str = "prefill"
    prefill_episodes: int = 256
    features_dim: int = 128
    d_model: int = 64
    lstm_hidden: int = 128
    eval_every: int = 100_000
    eval_episodes: int = 50
    final_eval_episodes: int = 300
    eval_seed: int = 1_000_000
    run_dir: str = "runs/rl"
    name: str = ""
    torch_threads: int = 1
    progress_bar: bool = True
    preset: str = "v1"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.retrieval not in MODES:
            raise ValueError(f"unknown retrieval {self.retrieval!r}; valid: {', '.join(MODES)}")
        if self.memory_fill not in MEMORY_FILLS:
            raise ValueError(
                f"unknown memory_fill {self.memory_fill!r}; valid: {', '.join(MEMORY_FILLS)}"
            )
        if self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; valid: {', '.join(ALGOS)}")
        if self.vec_env not in VEC_ENVS:
            raise ValueError(f"unknown vec_env {self.vec_env!r}; valid: {', '.join(VEC_ENVS)}")
        if self.reward_shaping not in SHAPINGS:
            raise ValueError(
                f"unknown reward_shaping {self.reward_shaping!r}; valid: {', '.join(SHAPINGS)}"
            )
        if self.reward_shaping != "none" and self.vec_env != "batched":
            raise ValueError(
                "reward_shaping needs vec_env='batched' (it reads the batched info); "
                "pass --reward-shaping none with --vec-env dummy"
            )
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset {self.preset!r}; valid: {', '.join(PRESETS)}")
        if self.vec_env == "batched" and (self.retrieval == "knn" or self.memory_fill != "prefill"):
            raise ValueError(
                "vec_env='batched' supports retrieval oracle/none with memory_fill='prefill'; "
                "use vec_env='dummy' for knn retrieval or online filling"
            )
        if not self.name:
            prefix = "lstm_" if self.algo == "recurrent_ppo" else ""
            self.name = f"{prefix}{self.retrieval}_s{self.seed}"

    @classmethod
    def from_preset(cls, preset: str = "v1", **overrides: Any) -> TrainConfig:
        """The config of ``preset`` with ``overrides`` (any field) on top.

        Raises:
            ValueError: Unknown preset (the message lists them).
        """
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; valid: {', '.join(PRESETS)}")
        return cls(**{**PRESETS[preset], **overrides, "preset": preset})

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """A config saved as ``config.json``; one saved before presets is the ``v0-9x9`` world."""
        data = json.loads(text)
        if "env_id" not in data:  # written before world v1: every world field is explicit
            data = {**data, "env_id": "LatentGridworld/Pixel-v0", "preset": "v0-9x9"}
            data.setdefault("vec_env", "dummy")
            data.setdefault("train_max_steps", None)
        # written before the extractor read the maze cue: its network has no maze embedding
        data.setdefault("maze_input", False)
        return cls(**data)

    @property
    def world(self) -> dict[str, Any]:
        """World kwargs of the env that differ from the id's (``None`` fields: the id's)."""
        fields = {
            "size": self.size,
            "n_mazes": self.n_mazes,
            "max_steps": self.max_steps,
            "view_size": self.view_size,
            "icl_share": self.icl_share,
        }
        return {**{k: v for k, v in fields.items() if v is not None}, **self.extra}

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
            env_id=self.env_id,
            trim=self.trim,
        )


def algorithm_class(algo: str) -> Any:
    """The SB3 algorithm class of ``algo`` (``RecurrentPPO`` needs sb3-contrib).

    Raises:
        ValueError: Unknown algo.
        ImportError: ``recurrent_ppo`` without sb3-contrib installed (the message says how).
    """
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "recurrent_ppo":
        try:
            from sb3_contrib import RecurrentPPO
        except ImportError as err:  # pragma: no cover - depends on the install
            raise ImportError(
                "algo='recurrent_ppo' needs sb3-contrib: pip install sb3-contrib"
            ) from err
        return RecurrentPPO
    raise ValueError(f"unknown algo {algo!r}; valid: {', '.join(ALGOS)}")


def build_memory(config: TrainConfig) -> EpisodicMemory:
    """The memory a run starts with: expert episodes (``prefill``/``both``) or empty."""
    if config.memory_fill == "online":
        return EpisodicMemory.for_world(config.env_spec.world_config())
    return expert_memory(
        config.world,
        config.prefill_episodes,
        seed=10_000 * (config.seed + 1),
        env_id=config.env_id,
    )


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
    types = {"int | None": _optional(int), "float | None": _optional(float)}
    for f in dataclasses.fields(TrainConfig):
        if f.name in ("extra", "preset"):
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


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    config = parse_args(argv)
    results = train(config)
    summary = {s: round(results[s]["success"], 3) for s in EVAL_SPLITS}
    print(json.dumps({"run": config.name, "success": summary, "timing": results["timing"]}))


if __name__ == "__main__":
    main()
