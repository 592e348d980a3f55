"""Agents for latent-gridworld: episodic memory, BC and RL agents, training and the benchmark."""
