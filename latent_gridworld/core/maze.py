"""Maze generation and shortest paths: pure functions of a seed, no pixels, text or pygame."""

from __future__ import annotations

import numpy as np

from latent_gridworld.core.constants import ACTION_DELTAS

UNREACHABLE = -1


def generate_walls(size: int, braid: float, rng: np.random.Generator) -> np.ndarray:
    """A braided maze: a perfect maze (randomised depth-first carving) with loops opened.

    Cells with both coordinates odd are rooms; carving knocks out the wall between two rooms.
    Braiding then visits dead ends in random order and, with probability ``braid``, opens a
    wall towards a neighbouring room, so more than one route exists between most cells.

    Returns:
        ``(size, size)`` bool array, True for walls; the border is always wall.
    """
    walls = np.ones((size, size), dtype=bool)
    rooms = size // 2
    visited = np.zeros((rooms, rooms), dtype=bool)
    start = (int(rng.integers(rooms)), int(rng.integers(rooms)))
    stack = [start]
    visited[start] = True
    walls[2 * start[0] + 1, 2 * start[1] + 1] = False
    while stack:
        r, c = stack[-1]
        options = [
            (r + dr, c + dc)
            for dr, dc in ACTION_DELTAS
            if 0 <= r + dr < rooms and 0 <= c + dc < rooms and not visited[r + dr, c + dc]
        ]
        if not options:
            stack.pop()
            continue
        nr, nc = options[int(rng.integers(len(options)))]
        visited[nr, nc] = True
        walls[2 * nr + 1, 2 * nc + 1] = False
        walls[r + nr + 1, c + nc + 1] = False  # the wall between the two rooms
        stack.append((nr, nc))

    if braid > 0:
        for room in rng.permutation(rooms * rooms):
            r, c = 2 * (room // rooms) + 1, 2 * (room % rooms) + 1
            closed = [
                (int(dr), int(dc))
                for dr, dc in ACTION_DELTAS
                if walls[r + dr, c + dc] and 0 < r + 2 * dr < size - 1 and 0 < c + 2 * dc < size - 1
            ]
            open_sides = 4 - len([1 for dr, dc in ACTION_DELTAS if walls[r + dr, c + dc]])
            if open_sides == 1 and closed and rng.random() < braid:
                dr, dc = closed[int(rng.integers(len(closed)))]
                walls[r + dr, c + dc] = False
    return walls


def distance_map(walls: np.ndarray, target: tuple[int, int]) -> np.ndarray:
    """Shortest-path step counts from every cell to ``target`` (BFS over the 4-neighbourhood).

    Returns:
        ``(H, W)`` int16 array; walls and cells cut off from ``target`` hold ``UNREACHABLE``.
    """
    return distance_maps(walls, np.array([target], dtype=np.int64))[0]


def distance_maps(walls: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """:func:`distance_map` for each ``(row, col)`` of ``targets``: ``(n, H, W)`` int16.

    One breadth-first search for all targets at once, each ring grown by four shifted array ORs
    (a frontier per target), so its cost is the longest distance times a few vector operations,
    not a Python loop over cells: the stream of fresh training mazes builds one map per object.

    >>> walls = np.array([[0, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    >>> distance_maps(walls, np.array([[0, 0]]))[0].tolist()
    [[0, 1, 2], [-1, -1, 3], [6, 5, 4]]
    """
    targets = np.asarray(targets, dtype=np.int64).reshape(-1, 2)
    n = len(targets)
    height, width = walls.shape
    floor = ~np.asarray(walls, dtype=bool)
    dist = np.full((n, height, width), UNREACHABLE, dtype=np.int16)
    frontier = np.zeros((n, height, width), dtype=bool)
    frontier[np.arange(n), targets[:, 0], targets[:, 1]] = True
    reached = frontier.copy()
    ring = 0
    while True:
        dist[frontier] = ring
        grown = np.zeros_like(frontier)
        grown[:, 1:, :] |= frontier[:, :-1, :]
        grown[:, :-1, :] |= frontier[:, 1:, :]
        grown[:, :, 1:] |= frontier[:, :, :-1]
        grown[:, :, :-1] |= frontier[:, :, 1:]
        frontier = grown & floor & ~reached
        if not frontier.any():
            return dist
        reached |= frontier
        ring += 1


def is_connected(walls: np.ndarray) -> bool:
    """True when every floor cell can reach every other floor cell."""
    floor = np.argwhere(~walls)
    if len(floor) == 0:
        return False
    dist = distance_map(walls, (int(floor[0, 0]), int(floor[0, 1])))
    return bool((dist[~walls] >= 0).all())


# --------------------------------------------------------------------------------------------
# The radial-arm family (ours, after Olton's radial-arm maze)

_TRIES_PER_MAZE = 200
_EXPANSIONS_PER_ARM = 2000  # a dead exit is given up, not searched exhaustively
_STRAIGHT_CELLS = 3  # cells every arm runs straight out of the room before it may turn
_STRAIGHT = 0.7  # chance that an arm tries to go straight on before it tries to turn
_ROOM, _WALL, _RESERVED = -1, -2, -3  # owner codes besides arm ids; _RESERVED is a wall too


def generate_radial(
    size: int,
    room_size: int,
    n_arms: tuple[int, int],
    arm_length: tuple[int, int],
    view_size: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A hub room with one-wide arms whose ends are private.

    The room is centred; arms leave it from every other cell of its sides (so no two arms
    touch at the room), each a corridor of a length drawn from ``arm_length`` that turns at
    random. No arm cell is 4-adjacent to a cell of another arm, to the room (but for its first
    cell) or to its own earlier cells (but for its predecessor), so every arm is a dead-end
    corridor with no shortcut. Every arm end is *private*: no floor cell outside its own arm
    lies within ``view_size // 2`` (Chebyshev) of it, so an object there is seen only from
    inside its arm.

    Returns:
        ``walls`` (``(size, size)`` bool) and the arms, each an ``(L, 2)`` array of (row, col)
        from the room outwards (the last row is the arm's end).

    Raises:
        RuntimeError: if no maze was found in ``_TRIES_PER_MAZE`` tries (the parameters are
            validated by :class:`~latent_gridworld.core.config.WorldConfig` so that this should
            not happen; a layout that is tight but valid is retried, not rejected).
    """
    lo = size // 2 - room_size // 2
    hi = lo + room_size - 1
    drawn = int(rng.integers(n_arms[0], n_arms[1] + 1))  # drawn once: retries keep the count
    # a count that does not fit in _TRIES_PER_MAZE tries falls back to one arm fewer, down to
    # the minimum: every maze stays within ``n_arms`` and tight parameters never fail one maze
    for want in range(drawn, n_arms[0] - 1, -1):
        for _ in range(_TRIES_PER_MAZE):
            arms = layout_once(size, room_size, want, arm_length, view_size, rng)
            if arms is not None:
                walls = np.ones((size, size), dtype=bool)
                for arm in arms:
                    walls[arm[:, 0], arm[:, 1]] = False
                walls[lo : hi + 1, lo : hi + 1] = False
                return walls, arms
    raise RuntimeError(
        f"no radial maze with {n_arms[0]} arms of {arm_length} cells found in "
        f"{_TRIES_PER_MAZE} tries on a {size}x{size} grid with a {room_size}x{room_size} room "
        f"and private ends for view {view_size}; use fewer or shorter arms, a larger grid or a "
        "smaller view"
    )


def layout_once(
    size: int,
    room_size: int,
    want: int,
    arm_length: tuple[int, int],
    view_size: int,
    rng: np.random.Generator,
) -> list[np.ndarray] | None:
    """One try at laying out ``want`` arms (see :func:`generate_radial`); None if it failed."""
    half = view_size // 2
    lo = size // 2 - room_size // 2
    hi = lo + room_size - 1
    exits = _room_exits(lo, hi)
    owner = np.full((size, size), _WALL, dtype=np.int64)  # arm k's cells hold k
    owner[lo : hi + 1, lo : hi + 1] = _ROOM
    arms: list[np.ndarray] = []
    # arms at the ends of a wall fan out first; the middle ones go straight out between
    order = sorted(rng.permutation(len(exits)), key=lambda e: exits[e][2] == 0)
    for e in order:
        if len(arms) == want:
            break
        first, outward, side = exits[e]
        length = int(rng.integers(arm_length[0], arm_length[1] + 1))
        path = _grow_arm(owner, first, outward, side, length, half, rng)
        if path is not None:
            for r, c in path:
                owner[r, c] = len(arms)
            arms.append(np.array(path, dtype=np.int64))
    return arms if len(arms) == want else None


def _room_exits(lo: int, hi: int) -> list[tuple[tuple[int, int], tuple[int, int], int]]:
    """Every exit: its first arm cell, outward direction and side (-1, 0, 1) of its wall.

    Exits sit on every other cell of each side. The side says towards which end of its wall
    an exit lies: arms turn that way first, fanning out like spokes instead of crossing.
    """
    exits = []
    mid = (lo + hi) // 2
    for k in range(lo, hi + 1, 2):
        side = int(np.sign(k - mid))
        exits += [((lo - 1, k), (-1, 0), side), ((hi + 1, k), (1, 0), side)]
        exits += [((k, lo - 1), (0, -1), side), ((k, hi + 1), (0, 1), side)]
    return exits


def _grow_arm(
    owner: np.ndarray,
    first: tuple[int, int],
    outward: tuple[int, int],
    side: int,
    length: int,
    half: int,
    rng: np.random.Generator,
) -> list[tuple[int, int]] | None:
    """A random corridor of ``length`` cells from ``first`` (depth-first with backtracking)."""
    size = owner.shape[0]

    def free(
        cell: tuple[int, int], prev: tuple[int, int] | None, path: list[tuple[int, int]]
    ) -> bool:
        r, c = cell
        if not (1 <= r < size - 1 and 1 <= c < size - 1) or owner[r, c] != _WALL:
            return False
        for dr, dc in ACTION_DELTAS:
            n = (r + int(dr), c + int(dc))
            if n == prev:
                continue
            if owner[n] >= _ROOM and not (prev is None and owner[n] == _ROOM):
                return False  # touches another arm, or the room beyond the first cell
            if n in path:
                return False  # touches its own earlier cells: no loop, no 2-wide patch
        return True

    def private(end: tuple[int, int]) -> bool:
        # the arm's own cells are not in ``owner`` yet, so any floor here is someone else's
        r, c = end
        window = owner[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
        return not (window >= _ROOM).any()

    if not free(first, None, []):
        return None
    stack: list[tuple[list[tuple[int, int]], tuple[int, int]]] = [([first], outward)]
    expansions = 0
    while stack and expansions < _EXPANSIONS_PER_ARM:
        path, heading = stack.pop()
        expansions += 1
        if len(path) == length:
            if private(path[-1]):
                _reserve(owner, path[-1], half)
                return path
            continue
        r, c = path[-1]
        options = _directions(heading, outward, side, len(path), rng)
        for d in reversed(options):  # the stack pops the first option first
            nxt = (r + d[0], c + d[1])
            if free(nxt, path[-1], path[:-1]):
                stack.append(([*path, nxt], d))
    return None


def _directions(
    heading: tuple[int, int],
    outward: tuple[int, int],
    side: int,
    cells: int,
    rng: np.random.Generator,
) -> list[tuple[int, int]]:
    """The moves an arm of ``cells`` cells tries next, most preferred first.

    The first cells go straight out, so that an arm never turns along the room into its
    neighbours' way; then straight on comes first most of the time, the turn towards the
    exit's end of its wall next (arms fan out like spokes instead of crossing), and the turn
    back towards the middle of the wall last.
    """
    if cells < _STRAIGHT_CELLS:
        return [heading]
    lateral = (side * abs(outward[1]), side * abs(outward[0]))
    if lateral == (0, 0):  # a middle exit: either way
        sign = 1 if rng.random() < 0.5 else -1
        lateral = (sign * abs(outward[1]), sign * abs(outward[0]))
    turns = [(-heading[1], heading[0]), (heading[1], -heading[0])]
    turns.sort(key=lambda d: -(d[0] * lateral[0] + d[1] * lateral[1]))
    if rng.random() < _STRAIGHT:
        return [heading, *turns]
    return [turns[0], heading, turns[1]]


def _reserve(owner: np.ndarray, end: tuple[int, int], half: int) -> None:
    """Mark the walls around a private end so that later arms keep out of its view."""
    r, c = end
    window = owner[max(r - half, 0) : r + half + 1, max(c - half, 0) : c + half + 1]
    window[window == _WALL] = _RESERVED
