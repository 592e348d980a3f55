"""Train a behavioural-cloning transformer, baseline or retrieval, in one readable script.

CleanRL-like: a config dataclass at the top, then the loop top to bottom. Both agents run this
same function with the same config; ``agent="retrieval"`` adds the retrieved episodes to each
context, ``agent="baseline"`` does not. Nothing else differs.

    python -m agents.bc.train --agent retrieval --steps 20000 --seed 0 --out runs/ret0

Run the two agents as two single-thread processes side by side (DESIGN.md D9: 1.4x the
throughput of one two-thread job on a 2-core machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

import latent_gridworld
from agents.bc.batch import (  # noqa: F401  (re-exported: the names' first home)
    BATCH_MAZE_IDS,
    ContextMaker,
    first_step,
    make_retriever,
    relabel,
    retrieve,
    retrieve_ids,
    to_tensors,
)
from agents.bc.context import TOKENIZER, StepFormat
from agents.bc.data import SampleStream, StreamConfig
from agents.bc.model import BCTransformer, ModelConfig
from latent_gridworld.core.config import WorldConfig
from latent_gridworld.integrity import FileFormatError, seal, verify, warn_unsealed

AGENTS = ("baseline", "retrieval")
RETRIEVAL_MODES = ("oracle", "knn")
MEMORY_TRIMS = ("visible", "goal")
CHECKPOINT_FORMAT = "latent-gridworld-bc-checkpoint"
CHECKPOINT_VERSION = 1
# TrainConfig fields that only say how the retrieval agent queries its memory
RETRIEVAL_FIELDS = frozenset(
    {"retrieval", "n_relevant", "n_distractors", "memory_steps", "memory_trim", "relevant_goal"}
)
# TrainConfig fields that do not change what a run learns (not compared on load)
RUNTIME_FIELDS = frozenset(
    {"steps", "out", "progress", "tensorboard", "eval_every", "eval_tasks", "threads", "dataset"}
)


@dataclass
class TrainConfig:
    """Everything a training run depends on (saved in its checkpoint).

    Attributes:
        agent: ``baseline`` (no memory) or ``retrieval`` (retrieved episodes in context).
        seed: Seed of the model init, the data stream and the dataset.
        steps: Gradient steps.
        batch_size: Episodes per step.
        lr: Peak AdamW learning rate (linear warm-up, then cosine decay to 10%).
        warmup: Warm-up steps.
        weight_decay: AdamW weight decay.
        grad_clip: Gradient norm clip.
        world: Env keyword arguments (any :class:`WorldConfig` field); ``split`` is ignored.
        pool_episodes: Expert episodes generated for the pool dataset (if ``dataset`` is None).
        pool_icl_share: Share of within-episode ICL episodes in the pool dataset.
        dataset: Path of a dataset from ``latent-gridworld generate`` (overrides generation);
            it must match ``world``.
        retrieval: ``oracle`` or ``knn`` (how the memory is queried; retrieval agent only).
        n_relevant: Relevant episodes per oracle retrieval.
        n_distractors: Distractor episodes per retrieval.
        memory_steps: Steps kept per retrieved episode (those with objects in view).
        relevant_goal: ``oracle``: ``any`` relevant episode, or ``other``: prefer episodes
            that passed the goal on the way to another goal (as every latent query's are).
        object_slots: Object-location tokens per step row (``letter <row> <col>`` of each
            object in view, computed from the view and the position cue; 0: none). Part of the
            step encoder, so both agents get it; see :class:`agents.bc.context.StepFormat`.
        memory_trim: Which steps of a retrieved episode are kept: ``visible`` (steps with any
            object in view, each object's first sighting first) or ``goal`` (steps that show
            the current goal first; ours).
        max_current: Steps of the current episode kept in context (a sliding window).
        aux_goal_weight: Weight of an auxiliary loss that predicts the goal's (row, col) at
            every step (0: off). It gives a dense signal for reading where the goal is from
            the context; without it only the few steps at junctions depend on that.
        goal_conditioned: The action head also reads the goal head's belief of the goal's
            cell (needs ``aux_goal_weight > 0``; ours, see :class:`ModelConfig`).
        navigator: Split the policy into a locator (goal head) and a navigator that sees the
            target cell but not the goal letter (needs ``aux_goal_weight > 0``; ours, see
            :class:`ModelConfig`).
        goal_teacher_forcing: With ``goal_conditioned`` or ``navigator``, the share of
            training steps whose action head reads the true goal cell instead of the belief.
        stream: How batches mix pool and stream episodes.
        model: Architecture (``vocab_size``/``step_len`` are filled in).
        eval_every: Closed-loop evaluation every this many steps (0: only at the end).
        eval_tasks: Tasks per split in those evaluations (0: none).
        threads: Torch threads (1: run two jobs side by side instead).
        out: Output folder (checkpoint, TensorBoard events, metrics).
        progress: Show a tqdm bar.
        tensorboard: Write TensorBoard events.
    """

    agent: str = "retrieval"
    seed: int = 0
    steps: int = 8000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    world: dict[str, Any] = field(
        default_factory=lambda: {"size": 13, "view_size": 5, "position_cue": True}
    )
    pool_episodes: int = 4000
    pool_icl_share: float = 0.25
    dataset: str | None = None
    retrieval: str = "oracle"
    n_relevant: int = 1
    n_distractors: int = 2
    memory_steps: int = 10
    memory_trim: str = "visible"
    relevant_goal: str = "any"
    object_slots: int = 0
    max_current: int = 64
    aux_goal_weight: float = 0.0
    goal_conditioned: bool = False
    navigator: bool = False
    goal_teacher_forcing: float = 0.5
    stream: dict[str, Any] = field(default_factory=lambda: asdict(StreamConfig()))
    model: dict[str, Any] = field(
        default_factory=lambda: {"d_token": 8, "d_model": 64, "n_layers": 2, "n_heads": 4}
    )
    eval_every: int = 0
    eval_tasks: int = 64
    threads: int = 1
    out: str = "runs/bc"
    progress: bool = True
    tensorboard: bool = True

    def __post_init__(self) -> None:
        # stream options left out take their defaults, which are what code before them did
        # (off): a checkpoint saved before an option existed still matches a config without it
        self.stream = {**asdict(StreamConfig()), **self.stream}

    def validate(self) -> None:
        """Raise ValueError naming every bad field (before any data or training)."""
        problems = []
        if self.agent not in AGENTS:
            problems.append(f"unknown agent {self.agent!r}; valid: {', '.join(AGENTS)}")
        if self.retrieval not in RETRIEVAL_MODES:
            problems.append(
                f"unknown retrieval mode {self.retrieval!r}; valid: {', '.join(RETRIEVAL_MODES)}"
            )
        if self.object_slots:
            if not 0 <= self.object_slots <= 8:
                problems.append(f"object_slots must be in 0..8, got {self.object_slots}")
            if not self.world.get("position_cue") or self.world.get("full_view"):
                problems.append(
                    "object_slots needs the position cue and an agent-centred view "
                    "(world position_cue=True, full_view=False)"
                )
        from agents.memory.retrieval import RELEVANT_GOALS

        if self.relevant_goal not in RELEVANT_GOALS:
            problems.append(
                f"unknown relevant_goal {self.relevant_goal!r}; valid: {', '.join(RELEVANT_GOALS)}"
            )
        if self.memory_trim not in MEMORY_TRIMS:
            problems.append(
                f"unknown memory_trim {self.memory_trim!r}; valid: {', '.join(MEMORY_TRIMS)}"
            )
        problems += self._target_problems()
        for name in ("steps", "batch_size", "memory_steps", "max_current", "threads"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.n_relevant < 0 or self.n_distractors < 0 or self.k < 1:
            problems.append(
                f"need n_relevant, n_distractors >= 0 and k = n_relevant + n_distractors >= 1, "
                f"got {self.n_relevant} and {self.n_distractors}"
            )
        problems += self._unknown_options()
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))
        self.world_config()  # raises with the world's own message

    def _target_problems(self) -> list[str]:
        problems = [
            f"{name} needs the goal head (aux_goal_weight > 0)"
            for name in ("goal_conditioned", "navigator")
            if getattr(self, name) and self.aux_goal_weight <= 0
        ]
        if self.goal_conditioned and self.navigator:
            problems.append("choose one of navigator and goal_conditioned")
        if not 0.0 <= self.goal_teacher_forcing <= 1.0:
            problems.append(
                f"goal_teacher_forcing must be in [0, 1], got {self.goal_teacher_forcing}"
            )
        return problems

    def _unknown_options(self) -> list[str]:
        problems = []
        unknown = set(self.stream) - {f.name for f in dataclasses.fields(StreamConfig)}
        if unknown:
            problems.append(f"unknown stream option(s) {sorted(unknown)}")
        share, noise = self.stream["noise_share"], self.stream["noise"]
        if not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
            problems.append(f"stream noise_share must be in [0, 1], got {share!r}")
        if not isinstance(noise, (int, float)) or not 0.0 <= noise < 1.0:
            problems.append(f"stream noise must be in [0, 1), got {noise!r}")
        cell_share = self.stream["cell_share"]
        if not isinstance(cell_share, (int, float)) or not 0.0 <= cell_share <= 1.0:
            problems.append(f"stream cell_share must be in [0, 1], got {cell_share!r}")
        elif cell_share > 0 and not (self.navigator or self.goal_conditioned):
            problems.append(
                "stream cell_share needs a policy that is told a cell "
                "(navigator=true or goal_conditioned=true)"
            )
        defaults = WorldConfig()
        objects = self.world.get("objects_per_maze", defaults.objects_per_maze)
        if cell_share and objects >= self.world.get("n_object_types", defaults.n_object_types):
            problems.append(
                "stream cell_share needs an object type absent from every maze "
                "(objects_per_maze < n_object_types)"
            )
        model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
        # filled in from the world and the other fields, never set through ``model``
        derived = {"vocab_size", "step_len", "max_segments", "aux_size", "goal_conditioned"}
        derived |= {"navigator", "goal_slot"}
        unknown = set(self.model) - (model_fields - derived)
        if unknown:
            problems.append(f"unknown model option(s) {sorted(unknown)}")
        return problems

    @property
    def k(self) -> int:
        """Episodes per retrieval."""
        return self.n_relevant + self.n_distractors

    def world_config(self) -> WorldConfig:
        """The world the agent is trained in (split ``train``, no ICL in the env itself)."""
        kwargs = {k: v for k, v in self.world.items() if k not in ("split", "icl_share")}
        return WorldConfig(**kwargs)

    def step_format(self) -> StepFormat:
        """The row layout this world gives."""
        w = self.world_config()
        return StepFormat(w.observed_size**2, w.maze_cue, w.position_cue, self.object_slots)

    def model_config(self) -> ModelConfig:
        """The architecture, with the vocabulary and row length filled in."""
        return ModelConfig(
            vocab_size=len(TOKENIZER),
            step_len=self.step_format().length,
            max_segments=max(9, self.k + 1),
            aux_size=self.world_config().size if self.aux_goal_weight > 0 else 0,
            goal_conditioned=self.goal_conditioned,
            navigator=self.navigator,
            goal_slot=self.step_format().view_cells + 1,
            **self.model,
        )


# ------------------------------------------------------------------------------------------
# data


def load_pool(config: TrainConfig, progress: bool = False) -> Sequence[Any]:
    """The pool dataset: loaded from ``config.dataset`` (checked against the world) or generated."""
    from latent_gridworld.datasets import generate_dataset, load_dataset

    world = config.world_config()
    if config.dataset is not None:
        ds = load_dataset(config.dataset)
        check_dataset_matches(ds.config, world, config.dataset)
        return ds
    kwargs = {k: v for k, v in asdict(world).items() if k not in ("split", "icl_share")}
    return generate_dataset(
        "ASCII",
        episodes=config.pool_episodes,
        split="train",
        icl_share=config.pool_icl_share,
        seed=config.seed,
        progress=progress,
        **kwargs,
    )


def check_dataset_matches(data: WorldConfig, world: WorldConfig, name: str) -> None:
    """ValueError if a dataset was made in another world than the one trained/evaluated in."""
    ignore = {"split", "icl_share", "max_steps", "step_penalty"}
    diffs = [
        f"{f.name}: dataset {getattr(data, f.name)!r} vs env {getattr(world, f.name)!r}"
        for f in dataclasses.fields(WorldConfig)
        if f.name not in ignore and getattr(data, f.name) != getattr(world, f.name)
    ]
    if diffs:
        raise ValueError(f"dataset {name} does not match the env config: " + "; ".join(diffs))


# ------------------------------------------------------------------------------------------
# checkpoints


def save_checkpoint(
    path: str | os.PathLike[str],
    model: BCTransformer,
    config: TrainConfig,
    step: int,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write model weights and the full config (atomically)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "package_version": latent_gridworld.__version__,
        "train_config": json.dumps(asdict(config), sort_keys=True),
        "model_config": json.dumps(model.config.to_dict(), sort_keys=True),
        "step": step,
        "extra": json.dumps(extra or {}, sort_keys=True),
        "state_dict": model.state_dict(),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    seal(tmp)  # whole-file sha256: a flipped byte in the weights must not load silently
    tmp.replace(path)


def load_checkpoint(
    path: str | os.PathLike[str], expect: TrainConfig | None = None
) -> tuple[BCTransformer, TrainConfig, dict[str, Any]]:
    """Read a checkpoint, checking its format, version and (with ``expect``) its config.

    Raises ValueError for a corrupted or truncated file (its whole-file checksum does not
    match), a file of another format or version, or one trained with another world, agent,
    architecture or retrieval setting than ``expect``.

    Returns:
        ``(model in eval mode, its TrainConfig, extra info: step and training stats)``.
    """
    try:
        # a checkpoint from before checksums loads, with a warning, once its format is known
        sealed = verify(path, allow_unsealed=True)
    except FileFormatError as err:
        raise FileFormatError(f"{path} is not a readable checkpoint: {err}") from err
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises several types for a damaged file
        raise ValueError(
            f"{path} is not a readable checkpoint ({type(err).__name__}: {err})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} file")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path} has checkpoint version {payload.get('version')}; this package reads "
            f"version {CHECKPOINT_VERSION}"
        )
    if not sealed:
        warn_unsealed(path)
    config = TrainConfig(**json.loads(payload["train_config"]))
    if expect is not None:
        # the baseline never builds a memory: how one would be queried does not change it
        ignored = RUNTIME_FIELDS | (RETRIEVAL_FIELDS if expect.agent == "baseline" else set())
        mismatched = [
            name
            for name in sorted(asdict(expect))
            if name not in ignored
            if getattr(config, name) != getattr(expect, name)
        ]
        if mismatched:
            details = "; ".join(
                f"{n}: checkpoint {getattr(config, n)!r} vs requested {getattr(expect, n)!r}"
                for n in mismatched
            )
            raise ValueError(f"checkpoint {path} was trained with another config: {details}")
    model = BCTransformer(ModelConfig(**json.loads(payload["model_config"])))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    extra = {"step": int(payload["step"]), **json.loads(payload["extra"])}
    return model, config, extra


# ------------------------------------------------------------------------------------------
# training


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10% of the peak."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress))))


def train(config: TrainConfig, pool: Sequence[Any] | None = None) -> Path:
    """Train one agent; returns the checkpoint path (``<out>/model.pt``).

    ``pool`` (a dataset) skips loading/generating it, e.g. to share one between runs.
    """
    config.validate()
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    torch.use_deterministic_algorithms(True)
    t_start = time.perf_counter()

    # -- data and memory: the only place the two agents differ (a dataset that does not
    # match the world fails here, before anything is written)
    world = config.world_config()
    if pool is None:
        pool = load_pool(config, progress=config.progress)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with_memory = config.agent == "retrieval"
    pool_memory = None
    if with_memory:
        from agents.memory import EpisodicMemory

        pool_memory = EpisodicMemory(n_object_types=world.n_object_types)
        pool_memory.extend(pool)
    stream = SampleStream(world, pool, StreamConfig(**config.stream), config.seed)
    maker = ContextMaker(config, pool_memory)

    # -- model and optimiser
    model = BCTransformer(config.model_config())
    # fused: one kernel for all parameters, the same update (the per-parameter loop cost ~3 ms
    # a step for this ~150k-parameter model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=True
    )
    writer = None
    if config.tensorboard:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(out / "tb"))
        writer.add_text("config", f"```\n{json.dumps(asdict(config), indent=1)}\n```")

    from tqdm.auto import tqdm

    history: list[dict[str, float]] = []
    t_train = time.perf_counter()
    data_seconds = 0.0
    model_seconds = 0.0  # forward, backward and the optimiser step
    bar = tqdm(
        range(config.steps),
        desc=f"{config.agent} s{config.seed}",
        disable=not config.progress,
        mininterval=2.0,
    )
    loss_ema = float("nan")  # smoothed total loss (BC + weighted auxiliary goal loss)
    goal_loss_ema = float("nan")
    for step in bar:
        t0 = time.perf_counter()
        batch = to_tensors(maker.contexts(stream.batch(config.batch_size)))
        t1 = time.perf_counter()
        data_seconds += t1 - t0

        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        model.train()
        loss, aux = model.training_loss(batch, config.goal_teacher_forcing, config.aux_goal_weight)
        if aux is not None:
            goal_loss_ema = (
                aux.item() / 2
                if np.isnan(goal_loss_ema)
                else (0.98 * goal_loss_ema + 0.01 * aux.item())
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip, foreach=True)
        optimizer.step()
        model_seconds += time.perf_counter() - t1

        loss_ema = loss.item() if np.isnan(loss_ema) else 0.98 * loss_ema + 0.02 * loss.item()
        if step % 50 == 0:
            bar.set_postfix(loss=f"{loss_ema:.3f}")
            if writer is not None:
                writer.add_scalar("losses/loss", loss.item(), step)
                if config.aux_goal_weight > 0:
                    writer.add_scalar("losses/goal_loss", goal_loss_ema, step)
                writer.add_scalar("charts/learning_rate", lr_at(step, config), step)
                elapsed = time.perf_counter() - t_train
                writer.add_scalar("charts/steps_per_second", (step + 1) / elapsed, step)
        last = step == config.steps - 1
        periodic = config.eval_every and (step + 1) % config.eval_every == 0
        if config.eval_tasks and (periodic or last):
            metrics = periodic_eval(model, config, pool_memory, step)
            metrics.update(step=step + 1, loss=loss_ema, seconds=time.perf_counter() - t_train)
            history.append(metrics)
            if writer is not None:
                for key, value in metrics.items():
                    if key.startswith("success/"):
                        writer.add_scalar(f"eval/{key}", value, step + 1)
            save_checkpoint(
                out / "model.pt",
                model,
                config,
                step + 1,
                {"history": history, "mazes_generated": stream.mazes_generated},
            )

    train_seconds = time.perf_counter() - t_train
    stats = {
        "steps": config.steps,
        "train_seconds": train_seconds,
        "data_seconds": data_seconds,
        "model_seconds": model_seconds,
        "setup_seconds": t_train - t_start,
        "final_loss": loss_ema,
        "final_goal_loss": goal_loss_ema,
        "mazes_generated": stream.mazes_generated,
        "history": history,
    }
    save_checkpoint(out / "model.pt", model, config, config.steps, stats)
    (out / "train_stats.json").write_text(json.dumps(stats, indent=1))
    if writer is not None:
        writer.close()
    return out / "model.pt"


def periodic_eval(
    model: BCTransformer, config: TrainConfig, pool_memory: Any | None, step: int
) -> dict[str, float]:
    """Closed-loop success on a few tasks of ``explicit`` and ``latent`` (for the curves)."""
    from agents.bc.agent import BCAgent
    from agents.bc.evaluate import evaluate_agent

    agent = BCAgent(model, config, pool_memory)
    out: dict[str, float] = {}
    for split in ("explicit", "latent"):
        result = evaluate_agent(
            agent, config.world_config(), split, config.eval_tasks, seed=10_000 + step
        )
        out[f"success/{split}"] = result.success_rate
    model.train()
    return out


# ------------------------------------------------------------------------------------------
# command line


def build_parser() -> argparse.ArgumentParser:
    """Flags for the most used fields; ``--set key=json`` reaches any other."""
    d = TrainConfig()
    p = argparse.ArgumentParser(
        prog="python -m agents.bc.train", description=__doc__.split("\n")[0]
    )
    p.add_argument("--agent", default=d.agent, help=f"one of {AGENTS}")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--out", default=d.out)
    p.add_argument("--dataset", default=None, help="pool dataset (.npz) instead of generating one")
    p.add_argument("--retrieval", default=d.retrieval, help=f"one of {RETRIEVAL_MODES}")
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=JSON",
        help="any other field, e.g. --set world='{\"size\": 13}' (repeatable)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """A TrainConfig from parsed flags."""
    config = TrainConfig(
        agent=args.agent,
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        out=args.out,
        dataset=args.dataset,
        retrieval=args.retrieval,
        eval_every=args.eval_every,
        progress=not args.no_progress,
    )
    apply_overrides(config, args.set)
    return config


def apply_overrides(config: TrainConfig, items: Sequence[str]) -> None:
    """Apply ``KEY=JSON`` overrides to ``config`` in place.

    A JSON object given for a dict field (``world``, ``stream``, ``model``) is merged into the
    current value, so ``stream='{"moved_share": 1.0}'`` keeps the other stream options.

    >>> c = TrainConfig()
    >>> apply_overrides(c, ['lr=0.001', 'stream={"moved_share": 1.0}'])
    >>> c.lr, c.stream["moved_share"], c.stream["stream_share"]
    (0.001, 1.0, 0.5)
    """
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise ValueError(
                f"--set expects KEY=JSON with KEY one of {sorted(names)}, got {item!r}"
            )
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--set {key}: {value!r} is not valid JSON ({exc})") from None
        current = getattr(config, key)
        if isinstance(current, dict) and isinstance(parsed, dict):
            parsed = {**current, **parsed}
        setattr(config, key, parsed)


def main(argv: Sequence[str] | None = None) -> int:
    """Train one agent from the command line."""
    args = build_parser().parse_args(argv)
    path = train(config_from_args(args))
    print(f"checkpoint: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
