#include "base/interrupt.hpp"

#include <atomic>
#include <chrono>

namespace lmn {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<InterruptHook> installed_hook{nullptr};

// Calls between clock reads: a token or time step takes a microsecond or
// more, so the clock is read every few tens of microseconds at most.
constexpr int kCallsPerClockRead = 32;

thread_local int calls_until_clock = 0;
thread_local Clock::time_point next_hook_call{};

}  // namespace

void set_interrupt_hook(InterruptHook hook) { installed_hook.store(hook); }

void poll_interrupt() {
  if (--calls_until_clock > 0) return;
  calls_until_clock = kCallsPerClockRead;
  const InterruptHook hook = installed_hook.load(std::memory_order_relaxed);
  if (hook == nullptr) return;
  const auto now = Clock::now();
  if (now < next_hook_call) return;
  next_hook_call = now + std::chrono::milliseconds(kInterruptPollMilliseconds);
  if (hook()) throw Interrupted();
}

}  // namespace lmn
