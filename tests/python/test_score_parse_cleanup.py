"""A score music21 cannot read leaves no open file behind (its ResourceWarning used to surface in a later test)."""

import gc
import warnings

import pytest

from lstmininet.datasets import load_melodies


def test_a_failed_parse_closes_the_file(tmp_path):
    score = tmp_path / "chord.abc"
    score.write_text("X:1\nL:1/8\nK:G\n[vc2ec gcec | c2ec dBGB :|\n|:ceAe ceAe | ceAe dBGB |\n")
    with pytest.raises(ValueError) as error:
        load_melodies(score, cache=False, progress=False)
    del error
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
