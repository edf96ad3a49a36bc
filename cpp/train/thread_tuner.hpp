#pragma once
// Picks, while training or generation runs, between the thread setting and
// one thread, whichever the clock says is faster. On an idle machine that
// is the setting. When another process keeps a core busy, the thread that
// shares it is descheduled for milliseconds at a time and every parallel
// region waits for it: two threads then run several times slower than
// one. The tuner times the work (tokens per second over whole stretches,
// since single steps between two deschedulings look fast), tries the other
// count now and then (more rarely each time it loses, so trials cost a few
// percent at most; a process's first generation call and a crowded team
// try sooner) and so follows the load as it comes and goes.
//
// Every decision waits for an amount of work measured in time, never in
// steps: a step may take a millisecond (a small model) or a second (a large
// one). A trial waits for ten times its own length on an idle machine. The
// kernel's count of involuntary context switches tells early that a core
// is contended: then the trial of one thread comes as soon as there is a
// baseline to compare it with, after the first step when steps are long.
// A trial that was due when a call ended opens the next call of the same
// kind of work, measured against the timing the last call left, when its
// steps are of the same size (a loop of short fit() calls, or the warm-up
// call before a timed one: on a busy machine the first decision is then
// made before a single step at the slow count), and goes on from where it
// stopped: calls shorter than a trial add up to one. A step's size is its
// tokens, or what the caller names when those vary (generation's timed
// blocks end by the clock: rows x weights read per token).
// Results do not depend on the thread count (every kernel sums in the same
// order), so switching keeps runs deterministic.

namespace lmn {

// Each kind of work remembers its own last choice (their best counts differ:
// one sample of a small model steps fastest on one thread, a batch of its
// samples split by rows on every thread).
enum class TunedWork { Training, Generation, GenerationByRows };

// Involuntary context switches of this process so far: how often the kernel
// took a core away from one of our threads (for another process).
long process_preemptions();

class ThreadTuner {
 public:
  // max_threads: the setting; with 1 there is nothing to choose.
  // step_size: the size of every step of this call (0: each step's tokens).
  ThreadTuner(int max_threads, TunedWork work, long step_size = 0);
  int threads() const { return current_; }  // for the next step
  // The step just run with threads(): its wall time, how many tokens it
  // worked on, and process_preemptions() after it.
  void record(double seconds, long tokens, long preemptions = process_preemptions());
  // Instead of record(), for a step whose team found two of its threads on
  // one core (TeamBarrier::crowded): they can only take turns there, so no
  // team can win now. Chooses one thread at once; the setting is tried
  // again after one trial's length (a crowding often passes), or, when that
  // trial was the crowded step, as after a lost trial.
  void record_crowded();
  // Drops what earlier tuners in this process learnt (new tuners start at the setting).
  static void forget_learnt();

 private:
  struct Stretch {  // work timed at one thread count
    double seconds = 0.0;
    long tokens = 0;
    double per_token() const { return seconds / static_cast<double>(tokens); }
  };
  struct Preempted {  // preemptions over a window of work at the chosen count
    double seconds = 0.0;
    long count = 0;
  };
  void note_preemptions(long count, double seconds);
  bool contended() const;
  void start_trial(long step_size);
  void note_due_trial(long step_size);
  void end_trial();
  void settle();  // after a decision: remember it, start timing afresh

  TunedWork work_;
  int max_threads_;
  int chosen_;        // the count in use between trials
  int current_;       // chosen_, or the other count during a trial
  int previous_ = 0;  // the count of the step recorded last (0: none yet)
  Stretch chosen_run_, trial_;
  Preempted window_;
  long step_size_;              // 0: a step's size is its tokens
  long carried_step_size_ = 0;  // > 0: chosen_run_ came from the last call, for steps of this size
  double wait_factor_;          // the next trial waits for wait_factor_ times its own length
  double trial_length_;         // seconds the last trial lasted (its steps can be far longer than a trial)
  long preemptions_;            // process_preemptions() after the previous step
};

}  // namespace lmn
