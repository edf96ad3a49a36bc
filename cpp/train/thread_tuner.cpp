#include "train/thread_tuner.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

#include <sys/resource.h>

namespace lmn {

namespace {

// A trial runs the other count for at least this long (and one step):
// long enough to span several scheduler time slices.
constexpr double kTrialSeconds = 0.03;
// It must beat the chosen count by this margin to take over.
constexpr double kWinMargin = 0.9;
// A trial this many times slower than the chosen count after this long has
// lost: it ends there. One thread of the char LSTM in float32 samples 5x
// slower than two (its weights fit two cores' L2, not one's): a full trial
// cost a 0.4 s generation call 6%.
constexpr double kClearLossFactor = 2.0, kClearLossSeconds = 0.005;
// Between trials, run at the chosen count for wait_factor times a trial's
// length: 10 at first, doubling while trials lose, so a losing trial (even
// four times slower) costs a few percent at most. The length is what the
// last trial took: beside a busy process one step of a two-thread team can
// take 20 times one thread's (a regression GRU fit: 155 ms against 8), so a
// trial lasts far longer than kTrialSeconds: waits sized from
// kTrialSeconds made three trials cost 12% of a 3.7 s fit (two threads by
// default beside the load: 84-89% of one thread's speed there; sized from
// the trial, 95-103%).
constexpr double kFirstWait = 10.0, kMaxWait = 640.0;
// Sooner, after one trial's length: the first trial of generation in a
// process, and the trial of the setting after a crowded team
// (TeamBarrier::crowded). Generation calls are short (20,000 tokens of the
// char LSTM in int8 take 0.15 s) and which count is faster depends on the
// machine and the model (the melody LSTM in int8: one thread 1.6x faster
// than two on the Intel Xeon family 6 model 167, two 1.1x faster in the
// AMD EPYC Zen 5's bench run): waiting ten trials' lengths, a call could
// end before its first trial. And a crowding often passes: numpy's
// OpenBLAS threads spin on a core for ~0.1 s after `import numpy` and
// after each threaded BLAS call, and a team started then shares a core; a
// crowded trial ends within a few meetings, so trying again soon costs
// little.
constexpr double kSoonWait = 1.0;
// A new tuner inherits the last one's wait factor up to this: the load may
// have changed since.
constexpr double kMaxInheritedWait = 40.0;
// A tuner's first step also pays for allocations and for starting threads:
// it is left out of the timing, unless it is this long. Then those costs
// are a small share of it, and on a busy machine the first decision should
// not wait another step of a second or more.
constexpr double kLongStepSeconds = 0.1;
// Preempted this often per second, one of our threads is sharing its core,
// and the trial of one thread comes kFirstWait times sooner: as soon as the
// chosen count has run for one trial's length. An idle machine preempts us
// tens of times per second, a contended core hundreds to thousands.
constexpr double kContendedPerSecond = 100.0;
// Judged over windows of this much work (or one longer step), and only on
// this many preemptions at least: a 1 ms step preempted once is no rate,
// and a long idle stretch must not dilute a load that has just come.
constexpr double kContentionWindow = 0.25;
constexpr long kMinContendedPreemptions = 8;

// A trial that was due when a tuner ended: of one thread (else of the
// setting), against this timing of the chosen count, for steps of this
// size, with what it had run so far (calls shorter than a trial add up).
struct DueTrial {
  bool of_one_thread = false;
  double seconds = 0.0;
  long tokens = 0, step_size = 0;  // step_size 0: none due
  double trial_seconds = 0.0;
  long trial_tokens = 0;
};

// What the last tuner of each kind of work in this process had learnt: the
// next call starts from it (the machine's load outlives one call).
struct Memory {
  std::atomic<int> choice{0};
  std::atomic<double> wait_factor{kFirstWait};
  std::atomic<double> trial_length{kTrialSeconds};
  std::mutex due_lock;
  DueTrial due;
};
Memory memory[3];  // per TunedWork

}  // namespace

void ThreadTuner::forget_learnt() {
  for (Memory& learnt : memory) {
    learnt.choice.store(0);
    learnt.wait_factor.store(kFirstWait);
    learnt.trial_length.store(kTrialSeconds);
    const std::lock_guard<std::mutex> lock(learnt.due_lock);
    learnt.due = {};
  }
}

long process_preemptions() {
  rusage usage{};
  return getrusage(RUSAGE_SELF, &usage) == 0 ? usage.ru_nivcsw : 0;
}

ThreadTuner::ThreadTuner(int max_threads, TunedWork work, long step_size)
    : work_(work),
      max_threads_(std::max(max_threads, 1)),
      step_size_(step_size),
      wait_factor_(kFirstWait),
      trial_length_(kTrialSeconds),
      preemptions_(process_preemptions()) {
  Memory& learnt = memory[static_cast<int>(work_)];
  const int last = learnt.choice.load();
  chosen_ = last >= 1 && last <= max_threads_ ? last : max_threads_;
  const bool first_generation = last == 0 && work_ != TunedWork::Training;
  wait_factor_ = first_generation ? kSoonWait : std::min(learnt.wait_factor.load(), kMaxInheritedWait);
  trial_length_ = learnt.trial_length.load();
  current_ = chosen_;
  DueTrial due;
  {
    const std::lock_guard<std::mutex> lock(learnt.due_lock);
    std::swap(due, learnt.due);  // taken by this call only
  }
  if (max_threads_ > 1 && due.step_size > 0 && due.of_one_thread == (chosen_ > 1)) {
    chosen_run_ = {due.seconds, due.tokens};
    trial_ = {due.trial_seconds, due.trial_tokens};
    carried_step_size_ = due.step_size;
    current_ = chosen_ == 1 ? max_threads_ : 1;
  }
}

void ThreadTuner::record(double seconds, long tokens, long preemptions) {
  const long preempted = preemptions - preemptions_;
  preemptions_ = preemptions;
  const bool first = previous_ == 0, changed = current_ != previous_;
  previous_ = current_;
  const bool long_step = seconds >= kLongStepSeconds;
  if (max_threads_ == 1 || tokens <= 0) return;
  const long step_size = step_size_ > 0 ? step_size_ : tokens;
  if (carried_step_size_ > 0 && step_size != carried_step_size_) {
    // Other work than the last call's: its timing says nothing here.
    carried_step_size_ = 0;
    chosen_run_ = trial_ = {};
    current_ = chosen_;
    return;
  }
  if (first && !long_step) return;
  Stretch& stretch = current_ == chosen_ ? chosen_run_ : trial_;
  stretch.seconds += seconds;
  stretch.tokens += tokens;
  if (current_ != chosen_) {
    const bool clearly_lost =
        trial_.seconds >= kClearLossSeconds && trial_.per_token() > kClearLossFactor * chosen_run_.per_token();
    if (trial_.seconds >= kTrialSeconds || clearly_lost) {
      end_trial();
    } else {
      note_due_trial(step_size);  // still due if this call ends now
    }
    return;
  }
  // The first step at a new count also counts its threads' wake-ups as
  // preemptions: a few, lost in a long step's rate but not in a short one's.
  if (!changed || long_step) note_preemptions(preempted, seconds);
  const double wait = contended() ? wait_factor_ / kFirstWait : wait_factor_;
  // (never longer than the longest wait for trials of kTrialSeconds: a
  // load that went away must not keep the threads away for minutes)
  const double base = std::max(kTrialSeconds, seconds);
  if (chosen_run_.seconds >= std::min(wait * std::max(base, trial_length_), kMaxWait * base)) start_trial(step_size);
}

void ThreadTuner::start_trial(long step_size) {
  current_ = chosen_ == 1 ? max_threads_ : 1;
  note_due_trial(step_size);
}

void ThreadTuner::note_due_trial(long step_size) {
  // Due until it ends: if this call ends first, the next one goes on with it.
  Memory& learnt = memory[static_cast<int>(work_)];
  const std::lock_guard<std::mutex> lock(learnt.due_lock);
  learnt.due = {current_ == 1, chosen_run_.seconds, chosen_run_.tokens, step_size, trial_.seconds, trial_.tokens};
}

void ThreadTuner::note_preemptions(long count, double seconds) {
  if (window_.seconds >= kContentionWindow) window_ = {};  // a full window gives way to a new one
  window_.count += count;
  window_.seconds += seconds;
}

bool ThreadTuner::contended() const {
  // Only a team can wait for a descheduled member: contention argues for
  // trying one thread, never for trying more.
  return chosen_ > 1 && window_.count >= kMinContendedPreemptions &&
         static_cast<double>(window_.count) >= kContendedPerSecond * window_.seconds;
}

void ThreadTuner::end_trial() {
  trial_length_ = trial_.seconds;
  if (trial_.per_token() < kWinMargin * chosen_run_.per_token()) {
    chosen_ = current_;
    wait_factor_ = kFirstWait;
  } else {  // (a trial after a crowding lost on its speed: back to the idle spacing)
    wait_factor_ = std::clamp(2.0 * wait_factor_, kFirstWait, kMaxWait);
  }
  settle();
}

void ThreadTuner::record_crowded() {
  preemptions_ = process_preemptions();
  previous_ = current_;
  if (current_ == 1) return;
  // Crowded at the chosen count: one thread, the setting tried again soon;
  // crowded in that trial: a lost trial (the wait doubles).
  wait_factor_ = chosen_ == 1 ? std::min(2.0 * wait_factor_, kMaxWait) : kSoonWait;
  chosen_ = 1;
  settle();
}

void ThreadTuner::settle() {
  Memory& learnt = memory[static_cast<int>(work_)];
  learnt.choice.store(chosen_);
  learnt.wait_factor.store(wait_factor_);
  learnt.trial_length.store(trial_length_);
  {
    const std::lock_guard<std::mutex> lock(learnt.due_lock);
    learnt.due = {};
  }
  current_ = chosen_;
  chosen_run_ = trial_ = {};
  window_ = {};
  carried_step_size_ = 0;
}

}  // namespace lmn
