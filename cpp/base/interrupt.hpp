#pragma once
// Stopping long calls (Ctrl-C). The core holds no Python: whoever embeds it
// installs a hook that answers "has the user asked to stop?" (the bindings
// check Python's pending signals). Long loops call poll_interrupt() once
// per unit of work (a token, a time step, a batch); it asks the hook at
// most every kInterruptPollMilliseconds and throws Interrupted on "yes".
// Never call it inside an OpenMP parallel region (the throw cannot leave it).
#include <stdexcept>

namespace lmn {

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// Returns true to stop. May be called from any thread; null: never stop.
using InterruptHook = bool (*)();
void set_interrupt_hook(InterruptHook hook);

constexpr int kInterruptPollMilliseconds = 50;

// Cheap enough to call per token: a countdown, a clock read now and then,
// and the hook at most every kInterruptPollMilliseconds per thread.
void poll_interrupt();

}  // namespace lmn
