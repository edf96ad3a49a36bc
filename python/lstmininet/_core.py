"""The compiled core, in the build made for this CPU (see ``lstmininet.isa``).

Importing this module imports the chosen ``_core_<level>`` extension and puts
it in this module's place, so ``lstmininet._core`` *is* that module.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
import warnings

from ._isa import supported_levels
from .isa import built_levels, choose_level

_built = built_levels()
_level, _reason = choose_level(_built, supported_levels(), os.environ.get("LSTMININET_ISA", "").strip())
_module = importlib.import_module(f"{__package__}._core_{_level}")
_module.ISA_LEVEL = _level
_module.ISA_REASON = _reason
_module.ISA_LEVELS_BUILT = _built
sys.modules[__name__] = _module

# The core reads LSTMININET_NUM_THREADS when it loads and ignores a value
# that is not a positive whole number: say so rather than silently use all cores.
# The pattern is what the core's strtol takes whole (cpp/base/parallel.cpp).
_threads = os.environ.get("LSTMININET_NUM_THREADS")
if _threads is not None and not (re.fullmatch(r"[ \t\n\v\f\r]*[+-]?[0-9]+[ \t\n]*", _threads) and int(_threads) > 0):
    warnings.warn(
        f"LSTMININET_NUM_THREADS={_threads!r} is not a positive whole number; "
        f"it is ignored and {_module.get_num_threads()} threads are used",
        RuntimeWarning,
        stacklevel=2,
    )
