"""latent-gridworld: Gymnasium mazes for measuring latent learning.

Importing the package registers ``LatentGridworld/Pixel-v0`` and ``LatentGridworld/ASCII-v0``.
It does not import pygame or torch.
"""

from latent_gridworld.core.config import WorldConfig
from latent_gridworld.core.constants import SPLITS, Action
from latent_gridworld.encoders.ascii import Tokenizer, observation_to_text
from latent_gridworld.envs.gridworld import LatentGridworldEnv
from latent_gridworld.expert import expert_action
from latent_gridworld.registration import register_envs

__version__ = "0.1.0"

register_envs()

__all__ = [
    "SPLITS",
    "Action",
    "LatentGridworldEnv",
    "Tokenizer",
    "WorldConfig",
    "__version__",
    "expert_action",
    "observation_to_text",
    "register_envs",
]
