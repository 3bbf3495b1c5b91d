"""Identity tests log in with real passwords: a fast hasher keeps thirty wrong ones quick."""

from __future__ import annotations

from typing import Any

import pytest

PASSWORD = "correct-horse-12345"


@pytest.fixture(autouse=True)
def fast_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def with_passwords(world: Any) -> Any:
    for user in world.users.values():
        user.set_password(PASSWORD)
        user.save()
    return world
