"""Pixel encoding through a tile atlas: sprites are drawn once, an image is one gather.

``atlas[codes]`` turns a ``(..., V, V)`` array of cell codes into ``(..., V, V, t, t, 3)``
tiles; a transpose and reshape make the image. No per-pixel drawing happens per step.
"""

from __future__ import annotations

import colorsys
import functools

import numpy as np

from latent_gridworld.core.constants import MAX_OBJECT_TYPES, N_CELL_CODES, OBJECT_BASE, Cell

FLOOR_RGB = (30, 30, 30)
WALL_RGB = (110, 110, 120)
AGENT_RGB = (240, 240, 240)
GRID_RGB = (50, 50, 50)


def _object_colour(object_type: int) -> tuple[int, int, int]:
    # evenly spaced hues, alternating lightness, so neighbouring types stay distinguishable
    hue = (object_type * 0.618034) % 1.0
    light = 0.55 if object_type % 2 == 0 else 0.42
    r, g, b = colorsys.hls_to_rgb(hue, light, 0.85)
    return int(r * 255), int(g * 255), int(b * 255)


def _shape_mask(object_type: int, tile: int) -> np.ndarray:
    """One of four glyphs (disc, square, diamond, cross) so shape also tells types apart."""
    c = (tile - 1) / 2.0
    y, x = np.mgrid[0:tile, 0:tile].astype(np.float64)
    dy, dx = np.abs(y - c), np.abs(x - c)
    radius = tile * 0.38
    kind = object_type % 4
    if kind == 0:
        return (dy**2 + dx**2) <= radius**2
    if kind == 1:
        return (dy <= radius * 0.85) & (dx <= radius * 0.85)
    if kind == 2:
        return (dy + dx) <= radius * 1.2
    return ((dy <= radius * 0.35) | (dx <= radius * 0.35)) & (dy <= radius) & (dx <= radius)


@functools.lru_cache(maxsize=16)
def tile_atlas(tile_size: int) -> np.ndarray:
    """``(N_CELL_CODES, t, t, 3)`` uint8 sprites for every cell code (read-only, cached)."""
    if tile_size < 1:
        raise ValueError(f"tile_size must be >= 1, got {tile_size}")
    atlas = np.zeros((N_CELL_CODES, tile_size, tile_size, 3), dtype=np.uint8)
    atlas[:] = FLOOR_RGB
    if tile_size >= 4:  # a faint grid line helps humans count cells; tiny tiles skip it
        atlas[:, -1, :] = GRID_RGB
        atlas[:, :, -1] = GRID_RGB
    atlas[Cell.WALL] = WALL_RGB
    agent = _shape_mask(2, tile_size)  # a diamond
    atlas[Cell.AGENT][agent] = AGENT_RGB
    for t in range(MAX_OBJECT_TYPES):
        atlas[OBJECT_BASE + t][_shape_mask(t, tile_size)] = _object_colour(t)
    if tile_size < 3:  # glyphs vanish at 1-2 px: fill the tile with the colour instead
        for t in range(MAX_OBJECT_TYPES):
            atlas[OBJECT_BASE + t] = _object_colour(t)
        atlas[Cell.AGENT] = AGENT_RGB
    atlas.setflags(write=False)
    return atlas


def codes_to_image(codes: np.ndarray, tile_size: int) -> np.ndarray:
    """``(..., H, W)`` cell codes to ``(..., H * t, W * t, 3)`` uint8 RGB in one gather."""
    atlas = tile_atlas(tile_size)
    tiles = atlas[codes]  # (..., H, W, t, t, 3)
    *batch, h, w = codes.shape
    nb = len(batch)
    order = (*range(nb), nb, nb + 2, nb + 1, nb + 3, nb + 4)
    return tiles.transpose(order).reshape(*batch, h * tile_size, w * tile_size, 3)
