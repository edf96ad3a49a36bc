"""Fuzz the checkpoint loader for a while: `python scripts/fuzz_checkpoints.py --minutes 10`.

Prints every crash, hang or unexpected exception with the mutation that
caused it, then the counts; exits 1 on any crash or hang. The engine is
tests/python/checkpoint_fuzzing.py (the tests run a short fixed slice of it).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "python"))

from checkpoint_fuzzing import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
