"""Plots (matplotlib, imported on use)."""

__all__: list[str] = []
