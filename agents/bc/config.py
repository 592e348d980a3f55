"""The BC training config: every field a run depends on, validated before any data or training.

Its own module so that the agent, the probe and the benchmark read it without importing the
training script (:mod:`agents.bc.train`, a leaf that nothing in the package imports).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from agents.bc.context import TOKENIZER, StepFormat
from agents.bc.data import StreamConfig
from agents.bc.model import ModelConfig
from latent_gridworld.core.config import WorldConfig

AGENTS = ("baseline", "retrieval")
RETRIEVAL_MODES = ("oracle", "knn")
MEMORY_TRIMS = ("visible", "goal", "route")
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
            the current goal first; ours) or ``route`` (the steps that show the goal and the
            steps nearest them in time: the walk to or from the goal; ours, for world v1, where
            the decision is which hub exit leads to the goal's arm).
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
