#pragma once
// Ctrl-C in a test: the interrupt hook answers "stop" on its n-th call.
// The core asks the hook at most every kInterruptPollMilliseconds, so the
// stop lands wherever the clock says; tests check every place it lands.
#include <atomic>

#include "base/interrupt.hpp"

namespace lmn::test {

inline std::atomic<int> hook_calls{0};
inline std::atomic<int> stop_at_hook_call{0};

inline bool stop_at_the_chosen_call() { return ++hook_calls == stop_at_hook_call; }

// Installs the hook for one scope, stopping at its n-th call.
class StopAtHookCall {
 public:
  explicit StopAtHookCall(int n) {
    hook_calls = 0;
    stop_at_hook_call = n;
    set_interrupt_hook(stop_at_the_chosen_call);
  }
  ~StopAtHookCall() { set_interrupt_hook(nullptr); }
  StopAtHookCall(const StopAtHookCall&) = delete;
  StopAtHookCall& operator=(const StopAtHookCall&) = delete;
};

}  // namespace lmn::test
