"""A pygame window that shows RGB frames. pygame is imported here only, and only when used."""

from __future__ import annotations

from typing import Any

import numpy as np


def import_pygame() -> Any:
    """Import pygame or explain how to get it."""
    try:
        import pygame
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "human rendering and play need pygame: pip install 'latent-gridworld[render]'"
        ) from err
    return pygame


def frame_to_surface(pygame: Any, frame: np.ndarray) -> Any:
    """An ``(H, W, 3)`` uint8 frame as a pygame surface (pygame is column-major)."""
    return pygame.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))


class Viewer:
    """Blits frames into a window that resizes to the frame, and keeps the window responsive.

    pygame has one display per process: another viewer (another env's ``close()``, or
    ``gymnasium.utils.env_checker``) may quit it under us, so :meth:`show` re-opens it when
    needed instead of drawing into a dead surface.
    """

    def __init__(self, caption: str = "latent-gridworld", fps: int = 8) -> None:
        self.pygame = import_pygame()
        self.pygame.init()
        self.caption = caption
        self.fps = fps
        self.screen: Any = None
        self.clock = self.pygame.time.Clock()

    def show(self, frame: np.ndarray, pump: bool = True) -> None:
        """Draw ``frame`` (H, W, 3) and flip; pumps events so the window never freezes."""
        pg = self.pygame
        h, w = frame.shape[:2]
        if not pg.display.get_init():
            pg.display.init()
            self.screen = None
        if (
            self.screen is None
            or pg.display.get_surface() is not self.screen
            or self.screen.get_size() != (w, h)
        ):
            self.screen = pg.display.set_mode((w, h))
            pg.display.set_caption(self.caption)
        self.screen.blit(frame_to_surface(pg, frame), (0, 0))
        if pump:
            pg.event.pump()
        pg.display.flip()
        # pace a visible window to ``fps``; a headless one (SDL's dummy driver) has no viewer
        # to pace for, so tests and recordings do not sleep
        if pg.display.get_driver() != "dummy":
            self.clock.tick(self.fps)

    def close(self) -> None:
        """Close the window (safe to call twice)."""
        if self.screen is not None:
            self.pygame.display.quit()
            self.screen = None
