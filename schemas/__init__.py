"""Shoal's API: the typed models, the task state machine and manifest loading."""
