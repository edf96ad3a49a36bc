#include "train/thread_tuner.hpp"

#include <algorithm>
#include <atomic>

#include <sys/resource.h>

namespace lmn {

namespace {

// A trial runs the other count for at least this long (and one step):
// long enough to span several scheduler time slices.
constexpr double kTrialSeconds = 0.03;
// It must beat the chosen count by this margin to take over.
constexpr double kWinMargin = 0.9;
// Between trials, run at the chosen count for wait_factor times a trial's
// length: 10 at first, doubling while trials lose, so a losing trial (even
// four times slower) costs a few percent at most.
constexpr double kFirstWait = 10.0, kMaxWait = 640.0;
// A new tuner inherits the last one's wait factor up to this: the load may
// have changed since.
constexpr double kMaxInheritedWait = 40.0;
constexpr long kMinStepsBetweenTrials = 4;
// Preempted this often per second, one of our threads is sharing its core:
// the next trial comes kFirstWait times sooner. An idle machine preempts us
// tens of times per second, a contended core hundreds to thousands.
constexpr double kContendedPerSecond = 150.0;

// What the last tuner of each kind of work in this process had learnt: the
// next call starts from it (the machine's load outlives one call).
struct Memory {
  std::atomic<int> choice{0};
  std::atomic<double> wait_factor{kFirstWait};
};
Memory memory[2];

}  // namespace

void ThreadTuner::forget_learnt() {
  for (Memory& learnt : memory) {
    learnt.choice.store(0);
    learnt.wait_factor.store(kFirstWait);
  }
}

long process_preemptions() {
  rusage usage{};
  return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_nivcsw : 0;
}

ThreadTuner::ThreadTuner(int max_threads, TunedWork work)
    : work_(work),
      max_threads_(std::max(max_threads, 1)),
      wait_factor_(kFirstWait),
      preemptions_(process_preemptions()) {
  const Memory& learnt = memory[static_cast<int>(work_)];
  const int last = learnt.choice.load();
  chosen_ = last >= 1 && last <= max_threads_ ? last : max_threads_;
  wait_factor_ = std::min(learnt.wait_factor.load(), kMaxInheritedWait);
  current_ = chosen_;
}

void ThreadTuner::record(double seconds, long tokens, long preemptions) {
  const double preempted_per_second = static_cast<double>(preemptions - preemptions_) / std::max(seconds, 1e-9);
  preemptions_ = preemptions;
  // The first step of a tuner pays for allocations; the first at a new count
  // for waking threads, which the kernel counts as preemptions too.
  const bool first = previous_ == 0, changed = current_ != previous_;
  previous_ = current_;
  if (max_threads_ == 1 || tokens <= 0 || first) return;
  Stretch& stretch = current_ == chosen_ ? chosen_run_ : trial_;
  stretch.seconds += seconds;
  stretch.tokens += tokens;
  ++stretch.steps;
  if (current_ != chosen_) {
    if (trial_.seconds >= kTrialSeconds) end_trial();
    return;
  }
  const bool contended = !changed && preempted_per_second >= kContendedPerSecond;
  const double wait = contended ? wait_factor_ / kFirstWait : wait_factor_;
  const double trial_length = std::max(kTrialSeconds, seconds);
  if (chosen_run_.steps >= kMinStepsBetweenTrials && chosen_run_.seconds >= wait * trial_length) {
    current_ = chosen_ == 1 ? max_threads_ : 1;
  }
}

void ThreadTuner::end_trial() {
  if (trial_.per_token() < kWinMargin * chosen_run_.per_token()) {
    chosen_ = current_;
    wait_factor_ = kFirstWait;
  } else {
    wait_factor_ = std::min(2.0 * wait_factor_, kMaxWait);
  }
  Memory& learnt = memory[static_cast<int>(work_)];
  learnt.choice.store(chosen_);
  learnt.wait_factor.store(wait_factor_);
  current_ = chosen_;
  chosen_run_ = {};
  trial_ = {};
}

}  // namespace lmn
