"""Shared test fixtures."""

from pathlib import Path

import pytest

from ci_env import in_ci

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def original_melody_txt() -> Path:
    """The original LSTMiniNet Melody.txt from ../shared (read-only, never copied here).

    A developer checkout without ../shared skips; in CI (CI set) its absence fails.
    """
    path = REPO_ROOT.parent / "shared/data/lstmininet-original/Melody.txt"
    if not path.is_file():
        if in_ci():
            pytest.fail(f"{path} is missing in CI; the compatibility tests need it")
        pytest.skip(f"{path} is not present")
    return path
