"""Fixtures of the compliance unit tests."""

from __future__ import annotations

import pytest

from compliance.profile import Profile, load_profiles


@pytest.fixture(scope="session")
def profiles() -> dict[str, Profile]:
    return load_profiles()
