"""One meaning of the CI variable for every test file (conftest.py read CI=false as CI)."""

import pytest

import conftest
from ci_env import in_ci


@pytest.mark.parametrize("value", ["", "0", "false", "False", "no", " NO "])
def test_ci_unset_or_false_is_not_ci(value, monkeypatch, tmp_path):
    monkeypatch.setenv("CI", value)
    assert not in_ci()
    monkeypatch.setattr(conftest, "REPO_ROOT", tmp_path / "repo")  # no ../shared beside it
    with pytest.raises(pytest.skip.Exception):
        conftest.original_melody_txt.__wrapped__()


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_ci_set_is_ci(value, monkeypatch, tmp_path):
    monkeypatch.setenv("CI", value)
    assert in_ci()
    monkeypatch.setattr(conftest, "REPO_ROOT", tmp_path / "repo")
    with pytest.raises(pytest.fail.Exception):
        conftest.original_melody_txt.__wrapped__()
