"""What the benchmark's jobs are sent and what they send back, as typed values.

A job runs in another process (or on a Ray worker), so everything here is a frozen, picklable
value: a :class:`TrainJob` comes back as a :class:`TrainResult`, an :class:`EvalJob` as an
:class:`EvalJobResult` (per-task :class:`RowOutcome` per :class:`RowKey`), and a probe job as
the probe's own JSON-ready dict. One seed's rows and probes together are a :class:`SeedResults`,
what the report and ``results.json`` are made from. The functions that run the jobs live in
:mod:`agents.experiments.workers` (they import torch; this module does not).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents.reference import ReferencePolicy

if TYPE_CHECKING:
    from agents.bc.config import TrainConfig
    from agents.evaluation import EvalResult

SPLITS = ("train", "explicit", "latent", "new_maze")
# the memoryless floor (the strongest searchers) and the told-cell ceiling: a latent number is
# read against them, measured on the same tasks in the same run
REFERENCES = ReferencePolicy.TABLE_MODES


@dataclass(frozen=True)
class RowKey:
    """One row of the table: an agent on a split (``"agent|split"`` in ``results.json``)."""

    agent: str
    split: str

    def __str__(self) -> str:
        return f"{self.agent}|{self.split}"

    @classmethod
    def parse(cls, text: str) -> RowKey:
        """The key of a stored row, e.g. ``RowKey.parse("baseline|latent")``."""
        agent, sep, split = text.rpartition("|")
        if not sep:
            raise ValueError(f"a row key is 'agent|split', got {text!r}")
        return cls(agent, split)


@dataclass(frozen=True)
class RowOutcome:
    """The per-task outcomes of one row (one seed), as ``results.json`` and the cache store them.

    Attributes:
        success: Goal reached within the env's budget, per task.
        efficiency: Shortest / steps for a success, 0 for a failure (rounded to 4 places).
        trivial: The goal was in view at the start.
        steps: Steps taken (``None`` in results written before it was stored).
        optimal: Shortest-path steps (``None`` likewise).
    """

    success: tuple[bool, ...]
    efficiency: tuple[float, ...]
    trivial: tuple[bool, ...]
    steps: tuple[int, ...] | None = None
    optimal: tuple[int, ...] | None = None

    @classmethod
    def of(cls, result: EvalResult) -> RowOutcome:
        """The outcomes of an :func:`~agents.evaluation.evaluate_agent` result."""
        return cls(
            success=tuple(result.success.tolist()),
            efficiency=tuple(result.efficiency.round(4).tolist()),
            trivial=tuple(result.trivial.tolist()),
            steps=tuple(result.steps.tolist()),
            optimal=tuple(result.optimal.tolist()),
        )

    def to_json(self) -> dict[str, list[Any]]:
        """The stored form: one list per field (a field that is ``None`` is left out)."""
        fields = {
            "success": self.success,
            "efficiency": self.efficiency,
            "trivial": self.trivial,
            "steps": self.steps,
            "optimal": self.optimal,
        }
        return {name: list(values) for name, values in fields.items() if values is not None}

    @classmethod
    def from_json(cls, stored: Mapping[str, Sequence[Any]]) -> RowOutcome:
        """The outcomes of a stored row (``results.json``'s ``per_seed`` or the cache)."""
        steps, optimal = stored.get("steps"), stored.get("optimal")
        return cls(
            success=tuple(stored["success"]),
            efficiency=tuple(stored["efficiency"]),
            trivial=tuple(stored["trivial"]),
            steps=None if steps is None else tuple(steps),
            optimal=None if optimal is None else tuple(optimal),
        )


@dataclass(frozen=True)
class SeedResults:
    """One seed's rows and probes: what the table and ``results.json`` are made of.

    Attributes:
        rows: Row -> its per-task outcomes, in the table's order.
        memory_probe: The retrieval agent's teacher-forced losses (``agents.bc.probe``).
        goal_probe: The goal-location probe per BC agent with a goal head.
        belief: The closed-loop belief probe on ``latent`` per BC agent (and variant).
    """

    rows: dict[RowKey, RowOutcome]
    memory_probe: dict[str, Any] | None = None
    goal_probe: dict[str, Any] | None = None
    belief: dict[str, Any] | None = None


@dataclass(frozen=True)
class TrainJob:
    """One agent to train.

    Attributes:
        config: Its training config (the job trains a copy of it).
        status: The job's progress file (:mod:`agents.progress`), or ``None``.
    """

    config: TrainConfig
    status: str | None = None


@dataclass(frozen=True)
class TrainResult:
    """A trained agent: its checkpoint and its ``train_stats.json``.

    Attributes:
        path: The checkpoint.
        wall_seconds: The job's wall time, set-up included.
        stats: The run's ``train_stats.json`` (``history`` included).
    """

    path: str
    wall_seconds: float
    stats: dict[str, Any]

    def record(self) -> dict[str, Any]:
        """This agent's entry of ``results.json``'s ``train_stats`` (``history`` last)."""
        rest = {k: v for k, v in self.stats.items() if k != "history"}
        return {"path": self.path, "wall_seconds": self.wall_seconds, **rest} | {
            "history": self.stats["history"]
        }


@dataclass(frozen=True)
class EvalJob:
    """The rows of one seed that still need evaluating (what an evaluation job is sent).

    Attributes:
        seed: The training seed (tasks are drawn with ``1000 + seed``).
        paths: BC agent -> checkpoint of this seed.
        n_tasks: Closed-loop tasks per row.
        third_party: ``FILE.py:FACTORY`` specs of the third-party agents.
        rows: The rows to evaluate (all others of the seed are cached).
        probe: Whether to run the memory probe of the retrieval agent too.
        status: The job's progress file (:mod:`agents.progress`), or ``None``.
    """

    seed: int
    paths: dict[str, str]
    n_tasks: int
    third_party: tuple[str, ...] = ()
    rows: tuple[RowKey, ...] = ()
    probe: bool = False
    status: str | None = None


@dataclass(frozen=True)
class EvalJobResult:
    """What an evaluation job sends back.

    Attributes:
        rows: The evaluated rows' outcomes, in the job's order.
        memory_probe: The memory probe, when the job was asked for it and has a retrieval agent.
        seconds: The job's wall time (not part of the results: timing varies run to run).
    """

    rows: dict[RowKey, RowOutcome]
    memory_probe: dict[str, Any] | None
    seconds: float


@dataclass(frozen=True)
class GoalProbeJob:
    """The goal-location probe of one seed's BC agents (those with a goal head).

    Attributes:
        paths: BC agent -> checkpoint.
        status: The job's progress file, or ``None``.
        label: The job's name in the progress lines.
    """

    paths: dict[str, str]
    status: str | None = None
    label: str = "goal probe"


@dataclass(frozen=True)
class BeliefJob:
    """The closed-loop belief probe of one seed's BC agents on the table's ``latent`` tasks.

    Attributes:
        paths: BC agent -> checkpoint.
        seed: The training seed (the tasks of the ``latent`` column: ``1000 + seed``).
        n_tasks: Tasks, as many as the table's rows have.
        status: The job's progress file, or ``None``.
    """

    paths: dict[str, str]
    seed: int
    n_tasks: int
    status: str | None = None


def agent_names(
    config: TrainConfig | None, third_party: Sequence[str], bc_agents: Sequence[str]
) -> list[str]:
    """The table's agents, in order; ``config`` is the retrieval agent's (``None``: none)."""
    names = [a for a in ("baseline",) if a in bc_agents]
    if "retrieval" in bc_agents:
        names += ["retrieval", "retrieval-distractors"]
        if config is None or config.retrieval == "oracle":  # the same weights, knn at test time
            names.append("retrieval-knn@test")
    names += [f"ref:{mode}" for mode in REFERENCES]
    names += [third_party_name(spec) for spec in third_party]
    return names


def third_party_name(spec: str) -> str:
    """The table's name for ``--agent spec``: the spec without its folders.

    >>> third_party_name("examples/third_party_agent.py:make_agent")
    'third_party_agent.py:make_agent'
    """
    return spec.rsplit("/", 1)[-1]
