"""Ctrl-C pressed during a chosen batch of a fit, the same on every machine.

fit() calls the progress bar after each batch; pressing Ctrl-C there (a
pending SIGINT) stops training at fit's next check, inside that epoch
unless it was the epoch's last batch.
"""

import _thread
import contextlib
import signal

import pytest

import lstmininet


@contextlib.contextmanager
def sigint_raises_keyboard_interrupt():
    """Within the block SIGINT raises KeyboardInterrupt, as in a terminal: a shell's background job (and so a test
    run started with `&`) begins with SIGINT ignored, where a Ctrl-C sent by a test would do nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def ctrl_c_at_batch(n: int):
    """Within the block, fit(progress=True) gets Ctrl-C while its n-th batch (counted across epochs) reports."""
    seen = 0
    report = lstmininet.model._ProgressBar.__call__

    def press_ctrl_c_at_a_batch(bar, *progress):
        nonlocal seen
        seen += 1
        if seen == n:
            _thread.interrupt_main()
        return report(bar, *progress)

    with sigint_raises_keyboard_interrupt(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(lstmininet.model._ProgressBar, "__call__", press_ctrl_c_at_a_batch)
        yield
