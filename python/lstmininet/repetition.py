"""Finding an endless loop at the end of a greedy sample.

Greedy decoding (temperature 0) always picks the likeliest token, so once
it returns to a phrase it has played it tends to play it again and again
until the length runs out. :func:`endless_loop` finds such a tail so the
CLI can cut it and say so. Plain Python.
"""

from __future__ import annotations

from collections.abc import Sequence


def endless_loop(tokens: Sequence, max_period: int = 64, min_repeats: int = 3, min_span: int = 24):
    """Find a phrase that repeats back to back until the very end of ``tokens``.

    Returns ``(start, period)``: from ``start`` on, ``tokens`` is one phrase
    of ``period`` tokens repeated to the end, at least ``min_repeats`` times
    and over at least ``min_span`` tokens (a long held note, ``_ _ _ ...``,
    is period 1 and needs the same span). None if the tail does not loop.
    The smallest such period wins; ``start`` is as early as the loop goes.
    """
    n = len(tokens)
    for period in range(1, min(max_period, n // min_repeats) + 1):
        start = n - period
        while start > 0 and tokens[start - 1] == tokens[start - 1 + period]:
            start -= 1
        span = n - start
        if span >= max(min_repeats * period, min_span):
            return start, period
    return None
