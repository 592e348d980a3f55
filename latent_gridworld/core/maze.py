"""Maze generation and shortest paths: pure functions of a seed, no pixels, text or pygame."""

from __future__ import annotations

from collections import deque

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
    height, width = walls.shape
    dist = np.full((height, width), UNREACHABLE, dtype=np.int16)
    dist[target] = 0
    queue = deque([target])
    while queue:
        r, c = queue.popleft()
        d = dist[r, c] + 1
        for dr, dc in ACTION_DELTAS:
            nr, nc = r + dr, c + dc
            if 0 <= nr < height and 0 <= nc < width and not walls[nr, nc] and dist[nr, nc] < 0:
                dist[nr, nc] = d
                queue.append((int(nr), int(nc)))
    return dist


def is_connected(walls: np.ndarray) -> bool:
    """True when every floor cell can reach every other floor cell."""
    floor = np.argwhere(~walls)
    if len(floor) == 0:
        return False
    dist = distance_map(walls, (int(floor[0, 0]), int(floor[0, 1])))
    return bool((dist[~walls] >= 0).all())
