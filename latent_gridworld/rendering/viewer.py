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


class Viewer:
    """Blits frames into a window that resizes to the frame, and keeps the window responsive."""

    def __init__(self, caption: str = "latent-gridworld", fps: int = 8) -> None:
        self.pygame = import_pygame()
        self.pygame.init()
        self.pygame.display.set_caption(caption)
        self.fps = fps
        self.screen: Any = None
        self.clock = self.pygame.time.Clock()

    def show(self, frame: np.ndarray, pump: bool = True) -> None:
        """Draw ``frame`` (H, W, 3) and flip; pumps events so the window never freezes."""
        pg = self.pygame
        h, w = frame.shape[:2]
        if self.screen is None or self.screen.get_size() != (w, h):
            self.screen = pg.display.set_mode((w, h))
        surface = pg.surfarray.make_surface(np.ascontiguousarray(frame.transpose(1, 0, 2)))
        self.screen.blit(surface, (0, 0))
        if pump:
            pg.event.pump()
        pg.display.flip()
        self.clock.tick(self.fps)

    def close(self) -> None:
        """Close the window."""
        if self.screen is not None:
            self.pygame.display.quit()
            self.screen = None
