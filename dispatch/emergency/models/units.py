"""Units (vehicles and teams), their status and their latest positions (AVL)."""

__all__: list[str] = []
