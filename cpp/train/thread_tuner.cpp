#include "train/thread_tuner.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

namespace lmn {

namespace {

// A trial is one step at the other count. It must beat the chosen count by
// this margin to take over (noise on a shared machine is a few percent).
constexpr double kWinMargin = 0.9;
// Before a trial, train at least this many step-times at the chosen count,
// so a losing trial (even one four times slower) costs a few percent at
// most; the first trial comes early, later ones back off as they keep losing.
constexpr double kFirstWait = 10.0, kMaxWait = 640.0;
constexpr int kMinStepsBetweenTrials = 4;

// The last choice made in this process: the next fit starts from it (the
// machine's load outlives one call).
std::atomic<int> last_choice{0};

}  // namespace

ThreadTuner::ThreadTuner(int max_threads) : max_threads_(std::max(max_threads, 1)), wait_factor_(kFirstWait) {
  const int last = last_choice.load();
  chosen_ = last >= 1 && last <= max_threads_ ? last : max_threads_;
  current_ = chosen_;
}

void ThreadTuner::record(double seconds, long tokens) {
  if (max_threads_ == 1 || tokens <= 0) return;
  const double per_token = seconds / static_cast<double>(tokens);
  if (current_ != chosen_) return end_trial(per_token);
  recent_[recent_count_++ % recent_.size()] = per_token;
  since_trial_ += seconds;
  ++steps_since_trial_;
  const double step_time = seconds;  // the latest step at the chosen count
  if (steps_since_trial_ >= kMinStepsBetweenTrials && since_trial_ >= wait_factor_ * step_time) start_trial();
}

void ThreadTuner::start_trial() { current_ = chosen_ == 1 ? max_threads_ : 1; }

void ThreadTuner::end_trial(double seconds_per_token) {
  // The median of the recent steps at the chosen count: under load their
  // times scatter widely, and the fastest of them would flatter it.
  std::vector<double> sorted(recent_.begin(), recent_.begin() + std::min<int>(recent_count_, recent_.size()));
  std::sort(sorted.begin(), sorted.end());
  const std::size_t n = sorted.size();
  const double chosen_median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  if (seconds_per_token < kWinMargin * chosen_median) {
    chosen_ = current_;
    wait_factor_ = kFirstWait;
    last_choice.store(chosen_);
  } else {
    wait_factor_ = std::min(2.0 * wait_factor_, kMaxWait);
  }
  current_ = chosen_;
  recent_count_ = 0;
  since_trial_ = 0.0;
  steps_since_trial_ = 0;
}

}  // namespace lmn
