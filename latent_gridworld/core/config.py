"""The knobs of a latent gridworld, validated once, in one frozen dataclass."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from latent_gridworld.core.constants import MAX_OBJECT_TYPES, SPLITS
from latent_gridworld.core.maze import layout_once

MAZE_FAMILIES = ("braided", "radial")


@dataclass(frozen=True)
class WorldConfig:
    """Every parameter that changes what a world looks like or how tasks are drawn.

    Attributes:
        size: Side of the square grid, border walls included; odd, at least 5. Default 13 (ours:
            the prototype, docs/prototype.md, measured that on 9x9 mazes a third of latent
            tasks show the goal at the start).
        n_mazes: Mazes in the training pool (ids ``0 .. n_mazes - 1``).
        n_new_mazes: Held-out mazes of the ``new_maze`` split (ids ``n_mazes ..
            n_mazes + n_new_mazes - 1``). Any larger id is a valid maze too, generated on demand:
            use ids from ``n_mazes + n_new_mazes`` upward for an unlimited training stream.
        pool_seed: Seed of the maze pool; mazes are a pure function of ``(pool_seed, maze id)``.
        n_object_types: Size of the object vocabulary (at most 26).
        objects_per_maze: Distinct object types placed in each maze.
        latent_per_maze: Objects per pool maze that are never a goal in training (latent).
        braid: Share of dead ends opened into loops (0 = perfect maze, 1 = no dead ends).
        view_size: Side of the agent-centred, north-up view; odd.
        full_view: Observe the whole maze instead of the window (the control in which the
            latent gap should vanish).
        max_steps: Episode step limit (truncation). ``None`` picks ``2 * size * size``.
        step_penalty: Subtracted from the reward at every step.
        icl_share: Probability that a ``train`` episode is a within-episode ICL episode (a
            second goal, seen earlier in the episode, is announced when the first is reached).
        held_out_start_share: Share of each pool maze's start cells kept for the test splits.
        maze_cue: Add the maze id to the observation (``"maze"`` key).
        position_cue: Add the agent's (row, col) to the observation (``"position"`` key).
        split: Which tasks ``reset`` samples: one of ``train``, ``explicit``, ``latent``,
            ``new_maze``.
        maze_family: ``"braided"`` (v0: braided mazes, objects and starts anywhere) or
            ``"radial"`` (v1, ours, after Olton's radial-arm maze: a hub room with one-wide
            arms, an object at the end of some arms, every arm end out of view from outside
            its arm; ``train`` starts beside an object, test starts in the hub room).
        room_size: Radial family: side of the square hub room (odd, >= 3).
        n_arms: Radial family: ``(min, max)`` arms per maze, drawn per maze.
        arm_length: Radial family: ``(min, max)`` cells per arm, drawn per arm.
        budget_scale: Per-goal step budget ``floor(budget_scale * shortest + budget_offset)``
            (the task truncates when it runs out; an ICL second goal gets its own budget from
            where it is announced). ``None`` keeps one episode limit (``max_steps``). Ignored
            when ``max_steps`` is given.
        budget_offset: The additive part of the per-goal budget.
        hub_start_share: Radial family: share of ``train`` tasks that start in the hub room
            instead of beside an object (the test splits always start there). Training from
            the hub is what a rat gets in the start box; arm-end starts are what shows it the
            latent objects.
    """

    size: int = 13
    n_mazes: int = 16
    n_new_mazes: int = 256
    pool_seed: int = 0
    n_object_types: int = 8
    objects_per_maze: int = 4
    latent_per_maze: int = 1
    braid: float = 0.3
    view_size: int = 5
    full_view: bool = False
    max_steps: int | None = None
    step_penalty: float = 0.0
    icl_share: float = 0.0
    held_out_start_share: float = 0.25
    maze_cue: bool = False
    position_cue: bool = False
    split: str = "train"
    maze_family: str = "braided"
    room_size: int = 5
    n_arms: tuple[int, int] = (10, 12)
    arm_length: tuple[int, int] = (7, 10)
    budget_scale: float | None = None
    budget_offset: int = 2
    hub_start_share: float = 0.0

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("Invalid latent gridworld parameters: " + "; ".join(problems))

    @property
    def episode_limit(self) -> int:
        """The effective step limit (``max_steps`` or its default)."""
        return self.max_steps if self.max_steps is not None else 2 * self.size * self.size

    def goal_budget(self, shortest: int) -> int:
        """Steps allowed for a goal ``shortest`` steps away (the episode limit if no budget)."""
        if self.budget_scale is None or self.max_steps is not None:
            return self.episode_limit
        return int(self.budget_scale * shortest + self.budget_offset)

    @property
    def per_goal_budget(self) -> bool:
        """True when each goal gets its own budget (``budget_scale`` set, no ``max_steps``)."""
        return self.budget_scale is not None and self.max_steps is None

    @property
    def observed_size(self) -> int:
        """Side of the observed window: ``size`` with a full view, else ``view_size``."""
        return self.size if self.full_view else self.view_size

    def replace(self, **changes: object) -> WorldConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


# field -> the kind of value it takes; checked before any value check, so a wrong type is
# reported by name instead of failing somewhere inside numpy or Gymnasium
_INT, _FLOAT, _BOOL, _STR, _OPT_INT, _OPT_FLOAT, _INT_RANGE = (
    "an integer",
    "a finite number",
    "a bool",
    "a string",
    "an integer or None",
    "a finite number or None",
    "a (min, max) pair of integers",
)
_FIELD_KINDS: dict[str, str] = {
    "size": _INT,
    "n_mazes": _INT,
    "n_new_mazes": _INT,
    "pool_seed": _INT,
    "n_object_types": _INT,
    "objects_per_maze": _INT,
    "latent_per_maze": _INT,
    "braid": _FLOAT,
    "view_size": _INT,
    "full_view": _BOOL,
    "max_steps": _OPT_INT,
    "step_penalty": _FLOAT,
    "icl_share": _FLOAT,
    "held_out_start_share": _FLOAT,
    "maze_cue": _BOOL,
    "position_cue": _BOOL,
    "split": _STR,
    "maze_family": _STR,
    "room_size": _INT,
    "n_arms": _INT_RANGE,
    "arm_length": _INT_RANGE,
    "budget_scale": _OPT_FLOAT,
    "budget_offset": _INT,
    "hub_start_share": _FLOAT,
}


def is_int(v: object) -> bool:
    """A Python or numpy integer that is not a bool (``True`` is an ``int`` to Python)."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_number(v: object) -> bool:
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, (bool, np.bool_))
        and bool(np.isfinite(v))
    )


def _normalised(kind: str, v: object) -> object:
    """``v`` as the plain Python value of its kind, or ``_WRONG`` if it is not one."""
    if kind in (_OPT_INT, _OPT_FLOAT) and v is None:
        return None
    if kind in (_INT, _OPT_INT):
        return int(v) if is_int(v) else _WRONG  # type: ignore[call-overload]
    if kind in (_FLOAT, _OPT_FLOAT):
        return float(v) if _is_number(v) else _WRONG  # type: ignore[arg-type]
    if kind == _BOOL:
        return bool(v) if isinstance(v, (bool, np.bool_)) else _WRONG
    if kind == _STR:
        return v if isinstance(v, str) else _WRONG
    if isinstance(v, (tuple, list)) and len(v) == 2 and all(is_int(x) for x in v):
        return (int(v[0]), int(v[1]))
    return _WRONG


_WRONG = object()


def _type_problems(c: WorldConfig) -> list[str]:
    """Wrong types, named by field; values of the right type are normalised in place."""
    out = []
    for name, kind in _FIELD_KINDS.items():
        value = getattr(c, name)
        plain = _normalised(kind, value)
        if plain is _WRONG:
            out.append(f"{name} must be {kind}, got {value!r} ({type(value).__name__})")
        else:
            object.__setattr__(c, name, plain)  # frozen: numpy ints become ints, lists tuples
    return out


def max_arms(room_size: int) -> int:
    """Arms a hub room of side ``room_size`` can hold: every other cell of each side."""
    return 4 * ((room_size + 1) // 2)


def _radial_problems(c: WorldConfig) -> list[str]:
    out: list[str] = []
    (arms_lo, arms_hi), (len_lo, len_hi) = c.n_arms, c.arm_length
    if c.room_size < 3 or c.room_size % 2 == 0:
        out.append(f"room_size must be an odd integer >= 3, got {c.room_size}")
    if not 1 <= arms_lo <= arms_hi:
        out.append(f"n_arms must be a (min, max) pair with 1 <= min <= max, got {c.n_arms}")
    elif arms_hi > max_arms(c.room_size):
        out.append(
            f"n_arms max {arms_hi} does not fit a {c.room_size}x{c.room_size} hub room (at most "
            f"{max_arms(c.room_size)} arms: one every other cell of each side)"
        )
    if not 1 <= len_lo <= len_hi:
        out.append(f"arm_length must be a (min, max) pair with 1 <= min <= max, got {c.arm_length}")
    elif len_lo <= c.view_size // 2:
        out.append(
            f"arms of {len_lo} cells cannot be private for view_size {c.view_size}: the hub is "
            f"in view of their ends; use arm_length min >= {c.view_size // 2 + 1} or a smaller "
            "view"
        )
    if c.view_size < 3:
        out.append(
            f"the radial family needs view_size >= 3 (train starts are in view of an arm end), "
            f"got {c.view_size}"
        )
    if arms_lo >= 1 and c.objects_per_maze > arms_lo:
        out.append(
            f"too many objects for the arms: objects_per_maze {c.objects_per_maze} > n_arms min "
            f"{arms_lo} (one object per arm end)"
        )
    need = c.room_size + 2 * len_lo + 2
    if len_lo >= 1 and c.room_size >= 3 and c.size < need:
        out.append(
            f"a {c.size}x{c.size} grid is too small for the arms: a {c.room_size}x{c.room_size} "
            f"hub with arms of {len_lo}+ cells needs size >= {need}"
        )
    if not out and not _radial_layout_exists(
        c.size, c.room_size, c.n_arms, c.arm_length, c.view_size
    ):
        out.append(
            f"{arms_lo} arms of {len_lo}-{len_hi} cells with private ends for view_size "
            f"{c.view_size} do not fit a {c.size}x{c.size} grid reliably (fewer than "
            f"{_PROBE_SUCCESSES} of {_PROBE_TRIES} layouts tried fit); use fewer or shorter arms, "
            "a larger grid or a smaller view"
        )
    return out


_PROBE_TRIES, _PROBE_SUCCESSES = 100, 5


@functools.lru_cache(maxsize=64)
def _radial_layout_exists(
    size: int, room_size: int, n_arms: tuple[int, int], arm_length: tuple[int, int], view: int
) -> bool:
    """Whether mazes of these parameters can be laid out reliably (a probe, cached).

    The arm constraints interact (privacy, no touching, the border), so feasibility is tried,
    not derived: single tries of the minimum arm count (what the generator falls back to) from a
    fixed seed must succeed often enough (5 in 100) that a maze's 200 tries all failing is
    below one in ten thousand. The generator still raises if one ever does.
    """
    rng = np.random.default_rng(0)
    successes = 0
    for _ in range(_PROBE_TRIES):
        successes += layout_once(size, room_size, n_arms[0], arm_length, view, rng) is not None
        if successes >= _PROBE_SUCCESSES:
            return True
    return False


def _problems(c: WorldConfig) -> list[str]:  # noqa: C901 - a flat list of independent checks
    out = _type_problems(c)
    if out:
        return out  # value checks would compare strings with numbers
    if c.split not in SPLITS:
        out.append(f"unknown split {c.split!r}; valid splits are {', '.join(SPLITS)}")
    elif c.split == "latent" and c.latent_per_maze == 0:
        out.append("split 'latent' needs latent objects, but latent_per_maze is 0")
    if c.size < 5 or c.size % 2 == 0:
        out.append(f"size must be an odd integer >= 5, got {c.size}")
    if c.view_size < 1 or c.view_size % 2 == 0:
        out.append(f"view_size must be an odd integer >= 1, got {c.view_size}")
    elif c.view_size > 2 * c.size - 1:
        out.append(
            f"view_size {c.view_size} is larger than allowed for size {c.size} "
            f"(at most 2 * size - 1 = {2 * c.size - 1}); use full_view=True to see the whole maze"
        )
    if c.n_mazes < 1:
        out.append(f"n_mazes must be >= 1, got {c.n_mazes}")
    if c.n_new_mazes < 1:
        out.append(f"n_new_mazes must be >= 1, got {c.n_new_mazes}")
    if not 1 <= c.n_object_types <= MAX_OBJECT_TYPES:
        out.append(f"n_object_types must be in 1..{MAX_OBJECT_TYPES}, got {c.n_object_types}")
    if c.objects_per_maze < 1:
        out.append(f"objects_per_maze must be >= 1, got {c.objects_per_maze}")
    if c.objects_per_maze > c.n_object_types:
        out.append(
            f"objects_per_maze ({c.objects_per_maze}) exceeds n_object_types "
            f"({c.n_object_types}): each maze holds distinct object types"
        )
    if c.maze_family not in MAZE_FAMILIES:
        out.append(f"unknown maze_family {c.maze_family!r}; valid: {', '.join(MAZE_FAMILIES)}")
    elif c.maze_family == "radial":
        out.extend(_radial_problems(c))
    # A perfect maze carved on the odd cells of a (size x size) grid has r * r rooms and
    # r * r - 1 passages (r = size // 2); keep room for the objects and two start cells.
    min_floor = 2 * (c.size // 2) ** 2 - 1
    if c.maze_family == "braided" and c.size >= 5 and c.objects_per_maze + 2 > min_floor:
        out.append(
            f"objects_per_maze ({c.objects_per_maze}) needs more free cells than a "
            f"{c.size}x{c.size} maze guarantees ({min_floor} floor cells, 2 kept for starts)"
        )
    if not 0 <= c.latent_per_maze < c.objects_per_maze:
        out.append(
            f"latent_per_maze must be in 0..objects_per_maze-1 = {c.objects_per_maze - 1}, "
            f"got {c.latent_per_maze} (every maze needs an explicit goal)"
        )
    elif c.latent_per_maze > 0 and c.n_mazes * c.latent_per_maze < c.n_object_types:
        out.append(
            f"a balanced split needs every object type latent in some maze: n_mazes * "
            f"latent_per_maze = {c.n_mazes * c.latent_per_maze} < n_object_types = "
            f"{c.n_object_types}; add mazes or latent objects"
        )
    elif c.n_mazes * (c.objects_per_maze - c.latent_per_maze) < c.n_object_types:
        out.append(
            "a balanced split needs every object type to be a goal in some maze: n_mazes * "
            f"(objects_per_maze - latent_per_maze) = "
            f"{c.n_mazes * (c.objects_per_maze - c.latent_per_maze)} < n_object_types = "
            f"{c.n_object_types}"
        )
    if not 0.0 <= c.braid <= 1.0:
        out.append(f"braid must be in [0, 1], got {c.braid}")
    if not 0.0 <= c.icl_share <= 1.0:
        out.append(f"icl_share must be in [0, 1], got {c.icl_share}")
    if not 0.0 < c.held_out_start_share < 1.0:
        out.append(f"held_out_start_share must be in (0, 1), got {c.held_out_start_share}")
    if c.max_steps is not None and c.max_steps < 1:
        out.append(f"max_steps must be >= 1, got {c.max_steps}")
    if c.budget_scale is not None and c.budget_scale < 1.0:
        out.append(f"budget_scale must be >= 1 (the shortest path must fit), got {c.budget_scale}")
    if not 0.0 <= c.hub_start_share <= 1.0:
        out.append(f"hub_start_share must be in [0, 1], got {c.hub_start_share}")
    if c.budget_offset < 0:
        out.append(f"budget_offset must be >= 0, got {c.budget_offset}")
    return out
