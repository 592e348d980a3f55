"""The BC training config: every field a run depends on, validated before any data or training.

Its own module so that the agent, the probe and the benchmark read it without importing the
training script (:mod:`agents.bc.train`, a leaf that nothing in the package imports).

The config is typed (its parts are the dataclasses they configure), but what it stores is the
dict form the dict-based config of earlier versions stored: checkpoints compare their stored
config with the requested one, and the benchmark's result files and caches key on it, so one
written before this module was typed must still match, and one written now must read the same
to the code before (:meth:`TrainConfig.to_dict`, :attr:`TrainConfig.stated`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.bc.context import TOKENIZER, StepFormat
from agents.bc.data import StreamConfig
from agents.bc.model import ModelConfig, ModelShape
from latent_gridworld.core.config import WorldConfig, is_int

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


# the typed parts of a TrainConfig: field -> its class
PARTS: dict[str, type] = {"world": WorldConfig, "stream": StreamConfig, "model": ModelShape}
# the parts' fields written at their default too, as the dicts before the typed config had them
# (the stream dict was always filled in whole)
DEFAULT_STATED = (
    "world.size",
    "world.view_size",
    "world.position_cue",
    "model.d_token",
    "model.d_model",
    "model.n_layers",
    "model.n_heads",
)

# a field's annotation -> (does a value fit, what it must be): checked before any value check,
# so that a wrong type (a JSON string for a number) is named instead of failing in training
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "int": (is_int, "an integer"),
    "float": (lambda v: is_int(v) or isinstance(v, float), "a number"),
    "bool": (lambda v: isinstance(v, bool), "a bool"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "str | None": (lambda v: v is None or isinstance(v, str), "a string or None"),
}


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on (saved in its checkpoint), validated on creation.

    Frozen, with typed parts (``world``, ``stream``, ``model``); :meth:`from_dict` reads the
    dict form (a checkpoint's, a preset's, ``--set`` items) and :meth:`to_dict` writes it.

    Attributes:
        agent: ``baseline`` (no memory) or ``retrieval`` (retrieved episodes in context).
        seed: Seed of the model init, the data stream and the dataset.
        steps: Gradient steps.
        batch_size: Episodes per step.
        lr: Peak AdamW learning rate (linear warm-up, then cosine decay to 10%).
        warmup: Warm-up steps.
        weight_decay: AdamW weight decay.
        grad_clip: Gradient norm clip.
        world: The world (any :class:`WorldConfig`); its ``split`` and ``icl_share`` are
            ignored (:meth:`world_config`).
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
        model: Architecture (the rest of :class:`ModelConfig` is filled in).
        eval_every: Closed-loop evaluation every this many steps (0: only at the end).
        eval_tasks: Tasks per split in those evaluations (0: none).
        threads: Torch threads (1: run two jobs side by side instead).
        out: Output folder (checkpoint, TensorBoard events, metrics).
        progress: Show a tqdm bar.
        tensorboard: Write TensorBoard events.
        stated: Dotted names (``world.size``) of the ``world`` and ``model`` fields the config
            was given, in order: :meth:`to_dict` writes them even at their default, so the dict
            is the one the dict-based config before this class wrote for the same input (old
            checkpoints and cached results keep matching). Never compared.
    """

    agent: str = "retrieval"
    seed: int = 0
    steps: int = 8000
    batch_size: int = 32
    lr: float = 2e-3
    warmup: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    world: WorldConfig = WorldConfig(size=13, view_size=5, position_cue=True)
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
    stream: StreamConfig = StreamConfig()
    model: ModelShape = ModelShape()
    eval_every: int = 0
    eval_tasks: int = 64
    threads: int = 1
    out: str = "runs/bc"
    progress: bool = True
    tensorboard: bool = True
    stated: tuple[str, ...] = field(default=DEFAULT_STATED, compare=False, repr=False)

    def __post_init__(self) -> None:
        problems = _problems({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        if problems:
            raise ValueError("invalid training config: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """The config of a dict (:meth:`to_dict`'s form; parts as dicts of their fields).

        A part given replaces the default one whole (its missing fields take the part class's
        defaults); stream options missing from an old checkpoint take theirs, which are what
        the code before them did (off), so such a checkpoint still matches. Raises ValueError
        listing every problem, unknown fields and options among them.

        >>> c = TrainConfig.from_dict({"lr": 0.001, "world": {"size": 9}})
        >>> c.lr, c.world.size, c.world.view_size, c.to_dict()["world"]
        (0.001, 9, 5, {'size': 9})
        """
        names = [f.name for f in dataclasses.fields(cls) if f.compare]
        problems = []
        unknown = set(values) - set(names)
        if unknown:
            problems.append(f"unknown field(s) {sorted(unknown)}")
        given = {k: v for k, v in values.items() if k in names}
        stated = [s for s in DEFAULT_STATED if s.partition(".")[0] not in given]
        for name, kind in PARTS.items():
            if name not in given:
                continue
            part = given[name]
            if not isinstance(part, Mapping):
                problems.append(f"{name} must be an object of {kind.__name__} fields, got {part!r}")
                given[name] = None
                continue
            options = {f.name for f in dataclasses.fields(kind)}
            if set(part) - options:
                problems.append(f"unknown {name} option(s) {sorted(set(part) - options)}")
            try:
                given[name] = kind(**{k: v for k, v in part.items() if k in options})
            except ValueError as err:  # the world's own message, every problem in it
                problems.append(f"{name}: {err}")
                given[name] = None
            stated += [f"{name}.{k}" for k in part if k in options]
        if problems:
            defaults = {f.name: f.default for f in dataclasses.fields(cls)}
            raise ValueError(
                "invalid training config: " + "; ".join(problems + _problems({**defaults, **given}))
            )
        return cls(**given, stated=tuple(stated))

    def to_dict(self) -> dict[str, Any]:
        """The dict form (JSON-ready): what checkpoints and ``results.json`` store.

        Parts are dicts: the stream whole, the world and the model with their :attr:`stated`
        fields and any other that is not at its default. That is the dict the dict-based
        config wrote for the same input, so a checkpoint's config reads the same either way.

        >>> TrainConfig().to_dict()["model"]
        {'d_token': 8, 'd_model': 64, 'n_layers': 2, 'n_heads': 4}
        """
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.compare:
                continue
            value = getattr(self, f.name)
            if f.name in PARTS:
                value = self._part_dict(f.name)
            out[f.name] = value
        return out

    def _part_dict(self, name: str) -> dict[str, Any]:
        part = getattr(self, name)
        defaults = type(part)()
        values = {f.name: getattr(part, f.name) for f in dataclasses.fields(part)}
        if name == "stream":
            keys = list(values)
        else:
            stated = [s.partition(".")[2] for s in self.stated if s.partition(".")[0] == name]
            keys = list(dict.fromkeys(stated))
            keys += [k for k, v in values.items() if k not in keys and v != getattr(defaults, k)]
        # tuples as JSON has them (lists), as the dicts read from JSON had them
        return {k: list(values[k]) if isinstance(values[k], tuple) else values[k] for k in keys}

    @property
    def k(self) -> int:
        """Episodes per retrieval."""
        return self.n_relevant + self.n_distractors

    def world_config(self) -> WorldConfig:
        """The world the agent is trained in (split ``train``, no ICL in the env itself)."""
        return self.world.replace(split="train", icl_share=0.0)

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
            **dataclasses.asdict(self.model),
        )


def _problems(values: dict[str, Any]) -> list[str]:
    """Every problem of a config's fields (``values``; a part that could not be built: None)."""
    problems, v = _type_problems(values)
    if v["agent"] not in AGENTS:
        problems.append(f"unknown agent {v['agent']!r}; valid: {', '.join(AGENTS)}")
    if v["retrieval"] not in RETRIEVAL_MODES:
        problems.append(
            f"unknown retrieval mode {v['retrieval']!r}; valid: {', '.join(RETRIEVAL_MODES)}"
        )
    world = v["world"]
    if v["object_slots"]:
        if not 0 <= v["object_slots"] <= 8:
            problems.append(f"object_slots must be in 0..8, got {v['object_slots']}")
        if world is not None and (not world.position_cue or world.full_view):
            problems.append(
                "object_slots needs the position cue and an agent-centred view "
                "(world position_cue=True, full_view=False)"
            )
    from agents.memory.retrieval import RELEVANT_GOALS

    if v["relevant_goal"] not in RELEVANT_GOALS:
        problems.append(
            f"unknown relevant_goal {v['relevant_goal']!r}; valid: {', '.join(RELEVANT_GOALS)}"
        )
    if v["memory_trim"] not in MEMORY_TRIMS:
        problems.append(
            f"unknown memory_trim {v['memory_trim']!r}; valid: {', '.join(MEMORY_TRIMS)}"
        )
    problems += _target_problems(v)
    for name in ("steps", "batch_size", "memory_steps", "max_current", "threads"):
        if v[name] < 1:
            problems.append(f"{name} must be >= 1, got {v[name]}")
    if v["n_relevant"] < 0 or v["n_distractors"] < 0 or v["n_relevant"] + v["n_distractors"] < 1:
        problems.append(
            f"need n_relevant, n_distractors >= 0 and k = n_relevant + n_distractors >= 1, "
            f"got {v['n_relevant']} and {v['n_distractors']}"
        )
    if v["stream"] is not None:
        problems += _stream_problems(v["stream"], v, world)
    if v["model"] is not None:
        problems += _part_type_problems("model", v["model"])
    return problems


def _type_problems(values: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """Fields of the wrong type, and the values with a default (or None) in their place."""
    problems = []
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    v = dict(values)
    for f in dataclasses.fields(TrainConfig):
        value = v[f.name]
        if f.name in PARTS:
            if value is not None and not isinstance(value, PARTS[f.name]):
                problems.append(
                    f"{f.name} must be a {PARTS[f.name].__name__} (TrainConfig.from_dict reads "
                    f"dicts), got {type(value).__name__}"
                )
                v[f.name] = None
        elif f.type in _KINDS and not _KINDS[f.type][0](value):
            problems.append(f"{f.name} must be {_KINDS[f.type][1]}, got {value!r}")
            v[f.name] = defaults[f.name]  # the value checks read a valid one
    return problems, v


def _target_problems(v: Mapping[str, Any]) -> list[str]:
    problems = [
        f"{name} needs the goal head (aux_goal_weight > 0)"
        for name in ("goal_conditioned", "navigator")
        if v[name] and v["aux_goal_weight"] <= 0
    ]
    if v["goal_conditioned"] and v["navigator"]:
        problems.append("choose one of navigator and goal_conditioned")
    if not 0.0 <= v["goal_teacher_forcing"] <= 1.0:
        problems.append(f"goal_teacher_forcing must be in [0, 1], got {v['goal_teacher_forcing']}")
    return problems


def _stream_problems(
    stream: StreamConfig, v: Mapping[str, Any], world: WorldConfig | None
) -> list[str]:
    # the three shares are checked with their own messages, which name a wrong type too
    problems = _part_type_problems("stream", stream, skip=("noise_share", "noise", "cell_share"))
    share, noise = stream.noise_share, stream.noise
    if not isinstance(share, (int, float)) or not 0.0 <= share <= 1.0:
        problems.append(f"stream noise_share must be in [0, 1], got {share!r}")
    if not isinstance(noise, (int, float)) or not 0.0 <= noise < 1.0:
        problems.append(f"stream noise must be in [0, 1), got {noise!r}")
    cell_share = stream.cell_share
    if not isinstance(cell_share, (int, float)) or not 0.0 <= cell_share <= 1.0:
        problems.append(f"stream cell_share must be in [0, 1], got {cell_share!r}")
    elif cell_share > 0 and not (v["navigator"] or v["goal_conditioned"]):
        problems.append(
            "stream cell_share needs a policy that is told a cell "
            "(navigator=true or goal_conditioned=true)"
        )
    if cell_share and world is not None and world.objects_per_maze >= world.n_object_types:
        problems.append(
            "stream cell_share needs an object type absent from every maze "
            "(objects_per_maze < n_object_types)"
        )
    return problems


def _part_type_problems(name: str, part: Any, skip: Sequence[str] = ()) -> list[str]:
    """Fields of a part whose value is not of their annotated kind."""
    return [
        f"{name}.{f.name} must be {_KINDS[f.type][1]}, got {getattr(part, f.name)!r}"
        for f in dataclasses.fields(part)
        if f.name not in skip and f.type in _KINDS
        if not _KINDS[f.type][0](getattr(part, f.name))
    ]


def merge_overrides(values: Mapping[str, Any], items: Sequence[str]) -> dict[str, Any]:
    """``values`` (a :meth:`TrainConfig.to_dict` form) with ``KEY=JSON`` items applied.

    KEY is a field or a part's field (``world.size``); a JSON object given for a part
    (``world``, ``stream``, ``model``) is merged into the current one, so
    ``stream='{"moved_share": 1.0}'`` keeps the other stream options.

    >>> merge_overrides({"lr": 0.002, "world": {"size": 13}}, ['lr=0.001', 'world.size=9'])
    {'lr': 0.001, 'world': {'size': 9}}
    """
    names = sorted(f.name for f in dataclasses.fields(TrainConfig) if f.compare)
    out = dict(values)
    for item in items:
        key, sep, value = item.partition("=")
        head, dot, sub = key.partition(".")
        if not sep or head not in names or (dot and (head not in PARTS or not sub)):
            raise ValueError(f"--set expects KEY=JSON with KEY one of {names}, got {item!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--set {key}: {value!r} is not valid JSON ({exc})") from None
        if dot:
            parsed = {sub: parsed}
        current = out.get(head)
        if head in PARTS and isinstance(current, Mapping) and isinstance(parsed, dict):
            parsed = {**current, **parsed}
        out[head] = parsed
    return out


def apply_overrides(config: TrainConfig, items: Sequence[str]) -> TrainConfig:
    """``config`` with ``KEY=JSON`` overrides applied (:func:`merge_overrides`), validated.

    >>> c = apply_overrides(TrainConfig(), ['lr=0.001', 'stream={"moved_share": 1.0}'])
    >>> c.lr, c.stream.moved_share, c.stream.stream_share
    (0.001, 1.0, 0.5)
    """
    return TrainConfig.from_dict(merge_overrides(config.to_dict(), items))
