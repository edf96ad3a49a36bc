"""Whether the tests run in CI: there a missing optional package or input fails instead of skipping.

One helper for every test file, so CI=false, 0 or no (as some shells and runners set it) means "not CI"
everywhere, not in some files only.
"""

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
