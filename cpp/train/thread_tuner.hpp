#pragma once
// Picks, step by step while training runs, between the thread setting and
// one thread, whichever the clock says is faster. On an idle machine that
// is the setting. When another process keeps a core busy, the thread that
// shares it is descheduled for milliseconds at a time and every parallel
// region of a step waits for it: two threads then train several times
// slower than one. The tuner notices by timing steps, and tries the other
// count again now and then (more rarely each time it loses, and never more
// than a small share of the time) so a change of load is noticed too.
// Results do not depend on the thread count (every kernel sums in the same
// order), so switching keeps training deterministic.
#include <array>

namespace lmn {

class ThreadTuner {
 public:
  // max_threads: the setting; with 1 there is nothing to choose.
  explicit ThreadTuner(int max_threads);
  int threads() const { return current_; }  // for the next step
  // The step just run with threads(): its wall time and how many tokens it trained on.
  void record(double seconds, long tokens);

 private:
  void start_trial();
  void end_trial(double seconds_per_token);

  int max_threads_;
  int chosen_;                      // the count in use between trials
  int current_;                     // chosen_, or the other count during a trial step
  std::array<double, 4> recent_{};  // seconds per token of the last steps at chosen_
  int recent_count_ = 0;
  double since_trial_ = 0.0;  // seconds trained since the last trial
  int steps_since_trial_ = 0;
  double wait_factor_;  // the next trial waits until since_trial_ >= wait_factor_ * a step's time
};

}  // namespace lmn
