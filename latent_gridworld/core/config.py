"""The knobs of a latent gridworld, validated once, in one frozen dataclass."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from latent_gridworld.core.constants import MAX_OBJECT_TYPES, SPLITS


@dataclass(frozen=True)
class WorldConfig:
    """Every parameter that changes what a world looks like or how tasks are drawn.

    Attributes:
        size: Side of the square grid, border walls included; odd, at least 5. Default 13 (ours:
            D9 measured that on 9x9 mazes a third of latent tasks show the goal at the start).
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

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError("Invalid latent gridworld parameters: " + "; ".join(problems))

    @property
    def episode_limit(self) -> int:
        """The effective step limit (``max_steps`` or its default)."""
        return self.max_steps if self.max_steps is not None else 2 * self.size * self.size

    @property
    def observed_size(self) -> int:
        """Side of the observed window: ``size`` with a full view, else ``view_size``."""
        return self.size if self.full_view else self.view_size

    def replace(self, **changes: object) -> WorldConfig:
        """A copy with ``changes`` applied (and validated)."""
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def _problems(c: WorldConfig) -> list[str]:  # noqa: C901 - a flat list of independent checks
    out: list[str] = []
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
    # A (size x size) maze carved on odd cells has at least (size // 2) ** 2 floor cells; keep
    # room for the objects and at least two start cells.
    min_floor = (c.size // 2) ** 2
    if c.size >= 5 and c.objects_per_maze + 2 > min_floor:
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
    return out
