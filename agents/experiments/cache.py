"""The evaluation cache: each seed's evaluated rows and probes, kept in ``<out>/eval_s<seed>.json``.

A stored row is reused when what it depends on (its checkpoint's content, the agent's source,
the world and pool, the seed and the task count: :func:`row_identities`) is unchanged, so
adding ``--agent x.py:f`` to a finished run evaluates only x's rows. The file's layout is kept
as it was when the cache was one dict: ``{"version", "rows": {"<identity>:<split>": {"row":
"agent|split", "outcomes": ...}}, "extras": {"_probe" | "_goal_probe" | "_belief": {"key",
"value"}}}``, so that the caches of earlier runs stay valid.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.experiments.jobs import RowKey, RowOutcome, SeedResults, agent_names, third_party_name

if TYPE_CHECKING:
    from agents.bc.config import TrainConfig

# Bump when what an evaluation row measures changes (the tasks, the references, the outcomes);
# 3: a fresh agent per row (before, one agent object ran all splits in turn)
EVAL_CACHE_VERSION = 3


class Probe(enum.Enum):
    """The probes a seed's evaluation stores beside its rows (the value: its name in the file)."""

    MEMORY = "_probe"
    GOAL = "_goal_probe"
    BELIEF = "_belief"


def digest(obj: Any) -> str:
    """The SHA-256 of ``obj`` as sorted JSON (what the cache keys are made of)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _source_digest(spec: str) -> str:
    """The content hash of a third-party agent's source file (``""`` if it has none)."""
    module_part = spec.rpartition(":")[0]
    if module_part.endswith(".py"):
        return file_digest(module_part)
    found = importlib.util.find_spec(module_part)
    origin = found.origin if found is not None else None
    return file_digest(origin) if origin and Path(origin).is_file() else ""


def row_identities(
    seed: int,
    configs: Mapping[str, TrainConfig],
    paths: Mapping[str, str],
    third_party: Sequence[str],
    n_tasks: int,
) -> dict[str, str]:
    """Agent name -> what its rows of this seed depend on, hashed (the evaluation cache's key).

    A BC row depends on its checkpoint (by content); a reference or third-party row on the
    world and the pool dataset its memory holds, and a third-party row also on its source file.
    All rows depend on the seed and the task count. So adding ``--agent x.py:f`` to a finished
    run evaluates only x's rows, and retraining one agent re-evaluates only that agent's.

    Args:
        seed: The training seed.
        configs: BC agent -> its :class:`~agents.bc.config.TrainConfig` for this seed.
        paths: BC agent -> its checkpoint.
        third_party: The ``--agent`` specs.
        n_tasks: Tasks per row.
    """
    base = {"seed": seed, "tasks": n_tasks, "version": EVAL_CACHE_VERSION}
    any_cfg = next(iter(configs.values()))
    world_pool = {
        "world": asdict(any_cfg.world_config()),
        "pool": [any_cfg.dataset, any_cfg.pool_episodes, any_cfg.pool_icl_share, any_cfg.seed],
    }
    checkpoints = {agent: file_digest(path) for agent, path in paths.items()}
    retrieval = configs.get("retrieval")
    out: dict[str, str] = {}
    for name in agent_names(retrieval, third_party, list(configs)):
        if name == "baseline":
            ident: dict[str, Any] = {"checkpoint": checkpoints["baseline"]}
        elif name.startswith("retrieval"):
            ident = {"checkpoint": checkpoints["retrieval"]}
        elif name.startswith("ref:"):
            ident = {"reference": name, **world_pool}
        else:
            spec = next(s for s in third_party if third_party_name(s) == name)
            ident = {"spec": spec, "source": _source_digest(spec), **world_pool}
        out[name] = digest({"agent": name, **ident, **base})
    return out


@dataclass
class EvalCache:
    """One seed's stored evaluations, as in ``eval_s<seed>.json``.

    Attributes:
        rows: ``"<identity>:<split>"`` -> ``{"row": "agent|split", "outcomes": {...}}``.
        extras: Probe name (:class:`Probe` value) -> ``{"key": ..., "value": ...}``.
    """

    rows: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def path(out: Path, seed: int) -> Path:
        """The cache file of one seed."""
        return out / f"eval_s{seed}.json"

    @classmethod
    def load(cls, out: Path, seed: int) -> EvalCache:
        """The stored evaluations of one seed.

        An unreadable file or one of another cache version reads as empty (it is rewritten).
        """
        try:
            stored = json.loads(cls.path(out, seed).read_text())
        except (OSError, ValueError):
            return cls()
        if stored.get("version") != EVAL_CACHE_VERSION:
            return cls()
        return cls(stored.get("rows", {}), stored.get("extras", {}))

    def store(self, out: Path, seed: int) -> None:
        """Write one seed's evaluations (atomically: an interrupted run keeps the old file)."""
        path = self.path(out, seed)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(
            json.dumps({"version": EVAL_CACHE_VERSION, "rows": self.rows, "extras": self.extras})
        )
        tmp.replace(path)


def _row_cache_key(identity: str, key: RowKey) -> str:
    return f"{identity}:{key.split}"


@dataclass
class SeedEval:
    """One seed's evaluation state: its stored rows and probes, and what they must match.

    Attributes:
        paths: BC agent -> checkpoint.
        digests: BC agent -> checkpoint content hash.
        identities: Table agent -> what its rows depend on (hashed, :func:`row_identities`).
        cache: The stored evaluations of the seed.
    """

    paths: dict[str, str]
    digests: dict[str, str]
    identities: dict[str, str]
    cache: EvalCache

    def todo(self, splits: Sequence[str]) -> tuple[RowKey, ...]:
        """The rows no stored evaluation covers."""
        return tuple(
            RowKey(agent, split)
            for agent, ident in self.identities.items()
            for split in splits
            if _row_cache_key(ident, RowKey(agent, split)) not in self.cache.rows
        )

    def probe_key(self, probe: Probe, n_tasks: int) -> str:
        """What a probe result depends on: the checkpoints it reads (and the task count)."""
        if probe is Probe.MEMORY:
            return digest(self.digests.get("retrieval"))
        if probe is Probe.GOAL:
            return digest(self.digests)
        return digest([self.digests, n_tasks])

    def has_probe(self, probe: Probe, n_tasks: int) -> bool:
        """Whether the stored ``probe`` is of these checkpoints."""
        return self.cache.extras.get(probe.value, {}).get("key") == self.probe_key(probe, n_tasks)

    def set_probe(self, probe: Probe, n_tasks: int, value: Any) -> None:
        """Store a probe result with its key."""
        self.cache.extras[probe.value] = {"key": self.probe_key(probe, n_tasks), "value": value}

    def add_rows(self, rows: Mapping[RowKey, RowOutcome]) -> None:
        """Store freshly evaluated rows, replacing the same rows of older checkpoints/sources."""
        stored = self.cache.rows
        for key, outcome in rows.items():
            text = str(key)
            for stale in [k for k, v in stored.items() if v["row"] == text]:
                del stored[stale]
            stored[_row_cache_key(self.identities[key.agent], key)] = {
                "row": text,
                "outcomes": outcome.to_json(),
            }

    def result(self, splits: Sequence[str], n_tasks: int) -> SeedResults:
        """The requested rows and the probes stored for these checkpoints."""
        rows = {
            RowKey(agent, split): RowOutcome.from_json(
                self.cache.rows[_row_cache_key(ident, RowKey(agent, split))]["outcomes"]
            )
            for agent, ident in self.identities.items()
            for split in splits
        }

        def stored(probe: Probe) -> Any:
            if not self.has_probe(probe, n_tasks):
                return None
            return self.cache.extras[probe.value]["value"]

        return SeedResults(
            rows,
            memory_probe=stored(Probe.MEMORY),
            goal_probe=stored(Probe.GOAL),
            belief=stored(Probe.BELIEF) if "latent" in splits else None,
        )
