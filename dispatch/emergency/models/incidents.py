"""Incidents, their linked agencies and tasks, and their command timeline."""

__all__: list[str] = []
