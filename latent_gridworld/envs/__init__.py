"""Gymnasium environments over the latent gridworld."""

from latent_gridworld.envs.gridworld import LatentGridworldEnv

__all__ = ["LatentGridworldEnv"]
