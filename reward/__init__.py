"""Reward models trained on exported preference sets (never opens the database)."""
