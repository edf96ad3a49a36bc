"""A fixed slice of the checkpoint fuzzer (checkpoint_fuzzing.py): 600
mutated checkpoints, loaded and used in subprocesses. None may crash or
hang, and every refusal is a ValueError or OSError naming the file. The
longer run is `python scripts/fuzz_checkpoints.py --minutes 10`."""

import pytest

from checkpoint_fuzzing import fuzz


@pytest.mark.sanitize
def test_mutated_checkpoints_never_crash_hang_or_fail_unclearly():
    report = fuzz(600, seed=0, batch=150, timeout=60.0)
    print(report.summary())
    assert report.variants == 600
    assert report.counts["crash"] == 0 and report.counts["hang"] == 0, report.problems
    assert report.counts["other"] == 0 and report.counts["unnamed"] == 0, report.problems
    # the mutations reach both outcomes: damage that is refused and changes that still load
    assert report.counts["clean"] > 300 and report.counts["loaded"] > 30
