"""Observation encoders: pure functions from cell codes to what an agent sees."""
