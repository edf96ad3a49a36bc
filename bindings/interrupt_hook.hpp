#pragma once
// Ctrl-C for long C++ calls: the hook base/interrupt.hpp asks, answered by
// Python's pending signals. A KeyboardInterrupt (or whatever a signal
// handler raised) is kept until the call unwinds to Python.

namespace lmn::py_interrupt {

// Installs the hook; call once, from the module's initialisation.
void install();
// Sets the kept Python error (KeyboardInterrupt if none) as the current one.
void raise_pending();
// Whether the kept error is a KeyboardInterrupt (or none is kept), which
// fit() takes as a clean stop.
bool pending_is_keyboard_interrupt();
// Drops the kept error (a call that stopped cleanly, as fit() does).
void discard_pending();

}  // namespace lmn::py_interrupt
