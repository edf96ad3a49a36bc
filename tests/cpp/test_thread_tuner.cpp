// The trainer's thread tuner on a simulated machine (step time = tokens x
// seconds per token at the chosen count), the per-thread ThreadLimit, run_team
// and its barrier.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <pthread.h>
#include <sched.h>

#include "base/parallel.hpp"
#include "check.hpp"
#include "train/thread_tuner.hpp"

using namespace lmn;

namespace {

constexpr long kTokens = 4096;

long never(int) { return 0; }

struct Run {
  int steps_at_one = 0, steps_at_max = 0;
  double seconds = 0.0;
  int last_threads = 0;
};

// `per_token(step, threads)` is the machine: seconds per token.
// `preempted_per_step(threads)`: involuntary context switches in one step.
template <class Machine, class Preempted = long (*)(int)>
Run simulate(ThreadTuner& tuner, int from, int to, Machine per_token, Preempted preempted_per_step = never) {
  Run run;
  long preemptions = process_preemptions();
  for (int step = from; step < to; ++step) {
    const int threads = tuner.threads();
    (threads == 1 ? run.steps_at_one : run.steps_at_max)++;
    const double seconds = kTokens * per_token(step, threads);
    run.seconds += seconds;
    tuner.record(seconds, kTokens, preemptions += preempted_per_step(threads));
    run.last_threads = threads;
  }
  return run;
}

// Idle: two threads 1.6x faster. Busy (one core taken by another process):
// two threads 4x slower than idle, one thread as fast as idle.
double idle(int, int threads) { return threads == 1 ? 1.6e-6 : 1.0e-6; }
double busy(int, int threads) { return threads == 1 ? 1.6e-6 : 6.4e-6; }
// A thread sharing its core is preempted every few milliseconds.
long busy_preemptions(int threads) { return threads == 1 ? 0 : 10; }

}  // namespace

TEST(idle_machine_keeps_all_threads_and_trials_cost_little) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  const Run run = simulate(tuner, 0, 2000, idle);
  CHECK(run.last_threads == 2);
  const double ideal = 2000 * kTokens * 1.0e-6;
  CHECK(run.seconds < 1.02 * ideal);  // trials of one thread cost under 2%
  CHECK(run.steps_at_one >= 1);       // but it did try
}

TEST(busy_core_switches_to_one_thread_soon_and_stays) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  const Run first = simulate(tuner, 0, 20, busy);
  CHECK(first.last_threads == 1);
  const Run rest = simulate(tuner, 20, 2000, busy);
  CHECK(rest.last_threads == 1);
  const double ideal = 1980 * kTokens * 1.6e-6;
  CHECK(rest.seconds < 1.05 * ideal);  // re-trying two threads costs under 5%
  CHECK(rest.steps_at_max >= 1);
}

TEST(trials_far_slower_than_a_trial_length_still_cost_little) {
  // Beside a busy process one two-thread step of a short fit took 155 ms
  // against one thread's 8 (regression GRU, Intel Xeon family 6 model 167):
  // each trial lasts that one step, so the waits between trials must grow
  // with what a trial took, not with the 30 ms a trial is meant to last.
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  const auto crawl = [](int, int threads) { return threads == 1 ? 2.0e-6 : 40.0e-6; };  // 8 ms, 164 ms
  const Run first = simulate(tuner, 0, 20, crawl, busy_preemptions);
  CHECK(first.last_threads == 1);
  const Run rest = simulate(tuner, 20, 1000, crawl, busy_preemptions);
  CHECK(rest.last_threads == 1);
  const double ideal = 980 * kTokens * 2.0e-6;
  CHECK(rest.seconds < 1.05 * ideal);  // under 5% over 8 s, where trials of 30 ms each cost ~15%
  CHECK(rest.steps_at_max >= 1);       // but it did try
}

TEST(rare_long_stalls_count_by_their_share_of_the_time) {
  ThreadTuner::forget_learnt();
  // Most steps at two threads are fast; every eighth waits out another
  // process's time slice. On average one thread is faster.
  ThreadTuner tuner(2, TunedWork::Generation);
  const Run run = simulate(tuner, 0, 400, [](int step, int threads) {
    return threads == 1 ? 1.6e-6 : step % 8 ? 1.0e-6 : 2.0e-5;
  });
  CHECK(run.last_threads == 1);
}

TEST(preemptions_bring_the_first_trial_forward) {
  ThreadTuner::forget_learnt();
  ThreadTuner unaware(2, TunedWork::Training);
  CHECK(simulate(unaware, 0, 10, busy).steps_at_one == 0);  // timing alone waits longer
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  const Run run = simulate(tuner, 0, 10, busy, busy_preemptions);
  CHECK(run.last_threads == 1);
  CHECK(tuner.threads() == 1);
}

TEST(load_that_comes_after_a_long_idle_stretch_is_noticed_soon) {
  ThreadTuner::forget_learnt();
  ThreadTuner idle_tuner(2, TunedWork::Training);
  simulate(idle_tuner, 0, 20000, idle);  // trials kept losing: long waits
  ThreadTuner tuner(2, TunedWork::Training);
  const Run run = simulate(tuner, 0, 200, busy, busy_preemptions);
  CHECK(run.last_threads == 1);
  CHECK(run.steps_at_max < 20);
}

TEST(load_that_goes_away_brings_the_threads_back) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  simulate(tuner, 0, 200, busy);
  CHECK(tuner.threads() == 1);
  const Run after = simulate(tuner, 200, 4000, idle);
  CHECK(after.last_threads == 2);
}

TEST(a_new_tuner_starts_from_the_last_choice_of_its_kind_of_work) {
  ThreadTuner::forget_learnt();
  ThreadTuner training(2, TunedWork::Training);
  simulate(training, 0, 100, busy);
  CHECK(training.threads() == 1);
  CHECK(ThreadTuner(2, TunedWork::Training).threads() == 1);
  CHECK(ThreadTuner(2, TunedWork::Generation).threads() == 2);  // generation keeps its own
  ThreadTuner next(2, TunedWork::Training);
  simulate(next, 0, 4000, idle);
  CHECK(next.threads() == 2);
  CHECK(ThreadTuner(2, TunedWork::Training).threads() == 2);
}

TEST(noise_below_the_margin_does_not_switch) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  // one thread only 5% faster: within noise, not worth a switch
  const Run run = simulate(tuner, 0, 1000, [](int, int threads) { return threads == 1 ? 0.95e-6 : 1.0e-6; });
  CHECK(run.last_threads == 2);
}

// The large config: steps of a second. Idle: 0.45 s at two threads, 0.72 s at
// one, a few preemptions per step. Busy: two threads 1.5 s and preempted
// about every 4 ms (one scheduler tick of 250 Hz), one thread as idle.
constexpr long kLongTokens = 64 * 64;
double long_idle(int threads) { return threads == 1 ? 0.72 : 0.45; }
double long_busy(int threads) { return threads == 1 ? 0.72 : 1.5; }

struct LongRun {
  int steps_at_one = 0, steps_at_max = 0, last_threads = 0;
  double seconds = 0.0;
};

template <class Machine>
LongRun simulate_long(ThreadTuner& tuner, int steps, Machine seconds_at, double preempted_per_second) {
  LongRun run;
  long preemptions = process_preemptions();
  for (int step = 0; step < steps; ++step) {
    const int threads = tuner.threads();
    (threads == 1 ? run.steps_at_one : run.steps_at_max)++;
    const double seconds = seconds_at(threads);
    run.seconds += seconds;
    preemptions += static_cast<long>(seconds * (threads == 1 ? 20.0 : preempted_per_second));
    tuner.record(seconds, kLongTokens, preemptions);
    run.last_threads = threads;
  }
  return run;
}

TEST(long_steps_on_a_busy_core_switch_after_the_first_step) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  const LongRun run = simulate_long(tuner, 6, long_busy, 250.0);
  CHECK(run.steps_at_max == 1);  // the first step (counted: long), then the trial of one thread wins
  CHECK(tuner.threads() == 1);
}

TEST(long_steps_on_an_idle_machine_try_one_thread_rarely) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  CHECK(simulate_long(tuner, 10, long_idle, 20.0).steps_at_one == 0);  // not within the first ten steps
  const LongRun run = simulate_long(tuner, 400, long_idle, 20.0);
  CHECK(run.last_threads == 2);
  CHECK(run.seconds < 1.03 * 400 * 0.45);  // trials cost under 3%
  CHECK(run.steps_at_one >= 1);
}

TEST(short_steps_under_load_try_one_thread_within_a_tenth_of_a_second) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  // Two threads on a busy machine: 4 ms steps, preempted 250 times a second.
  const long before = process_preemptions();
  double seconds = 0.0;
  while (tuner.threads() == 2 && seconds < 1.0) {
    seconds += 0.004;
    tuner.record(0.004, 1000, before + static_cast<long>(seconds * 250.0));
  }
  CHECK(seconds < 0.1);  // timing alone would wait ten trial lengths, 0.3 s
}

TEST(a_few_preemptions_in_short_steps_are_no_contention) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  // 1 ms steps on an idle machine, preempted 40 times a second: one step in
  // 25 is preempted once (a rate of 1000 a second over that step alone)
  double seconds = 0.0;
  long preemptions = process_preemptions();
  for (int step = 0; tuner.threads() == 2 && step < 100000; ++step) {
    seconds += 0.001;
    tuner.record(0.001, 1000, preemptions += step % 25 == 0 ? 1 : 0);
  }
  CHECK(seconds >= 10 * 0.03);  // the first trial waited as on any idle machine
}

TEST(preemptions_at_one_thread_do_not_bring_trials_of_more_forward) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Training);
  simulate(tuner, 0, 200, busy, busy_preemptions);
  CHECK(tuner.threads() == 1);
  // Both cores busy now: the one thread is preempted too; two stay slower.
  const Run run = simulate(tuner, 200, 400, busy, [](int) { return 10L; });
  CHECK(run.steps_at_max <= 2);  // trials of two threads keep their idle spacing: one in 200 steps
}

TEST(a_crowded_team_switches_to_one_thread_at_once) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Generation, kTokens);
  simulate(tuner, 0, 3, idle);
  CHECK(tuner.threads() == 2);
  tuner.record_crowded();
  CHECK(tuner.threads() == 1);
  ThreadTuner next(2, TunedWork::Generation, kTokens);  // the next call starts there
  CHECK(next.threads() == 1);
  // The setting is tried again later and wins back on an idle machine.
  const Run run = simulate(next, 0, 2000, idle);
  CHECK(run.last_threads == 2);
  // Crowded again in that trial: a lost trial, back to one thread.
  ThreadTuner::forget_learnt();
  ThreadTuner again(2, TunedWork::Generation, kTokens);
  again.record_crowded();
  int steps = 0;
  while (again.threads() == 1 && steps < 100000) {
    again.record(kTokens * 1.6e-6, kTokens, process_preemptions());
    ++steps;
  }
  CHECK(again.threads() == 2);  // the trial of the setting came
  again.record_crowded();
  CHECK(again.threads() == 1);
  ThreadTuner::forget_learnt();
}

namespace {

// Steps at the setting until the first trial of one thread.
int steps_until_a_trial(ThreadTuner& tuner) {
  int steps = 0;
  while (tuner.threads() == 2 && steps < 100000) {
    simulate(tuner, steps, steps + 1, idle);
    ++steps;
  }
  return steps;
}

}  // namespace

TEST(the_first_generation_call_tries_one_thread_ten_times_sooner_than_training) {
  // Generation calls are short, and which count is faster depends on the model and machine.
  ThreadTuner::forget_learnt();
  ThreadTuner generation(2, TunedWork::Generation, kTokens);
  const int soon = steps_until_a_trial(generation);  // the untimed first step, then 30 ms of 4 ms steps
  CHECK(soon == 9);
  ThreadTuner training(2, TunedWork::Training);
  const int later = steps_until_a_trial(training);
  CHECK(later - 1 >= 9 * (soon - 1) && later - 1 <= 10 * (soon - 1));  // timed steps: 74 against 8
  // Once it has decided, the next generation call waits as training does.
  simulate(generation, 0, 20, idle);
  CHECK(generation.threads() == 2);
  ThreadTuner next(2, TunedWork::Generation, kTokens);
  CHECK(steps_until_a_trial(next) - 1 >= 9 * (soon - 1));
  ThreadTuner::forget_learnt();
}

namespace {

// Milliseconds a trial of one thread runs when one thread is `slower`
// times slower than two (steps of 1 ms).
int trial_milliseconds(double slower) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Generation, kTokens);
  while (tuner.threads() == 2) tuner.record(1e-3, 1000, process_preemptions());
  int ms = 0;
  while (tuner.threads() == 1 && ms < 1000) {
    tuner.record(1e-3, static_cast<long>(1000 / slower), process_preemptions());
    ++ms;
  }
  ThreadTuner::forget_learnt();
  return ms;
}

}  // namespace

TEST(a_trial_far_slower_than_the_chosen_count_ends_early) {
  // One thread of the char LSTM in float32 samples 5x slower than two.
  CHECK(trial_milliseconds(5.0) == 5);
  CHECK(trial_milliseconds(1.6) == 30);  // the idle machine's 1.6x: a full trial
}

namespace {

// One-thread seconds (steps of 1 ms on the idle machine) until the tuner
// tries the setting.
double seconds_until_a_trial(ThreadTuner& tuner) {
  double seconds = 0.0;
  while (tuner.threads() == 1 && seconds < 100.0) {
    tuner.record(1e-3, static_cast<long>(1e-3 / idle(0, 1)), process_preemptions());
    seconds += 1e-3;
  }
  return seconds;
}

}  // namespace

TEST(a_crowded_team_is_tried_again_soon_and_later_each_time_it_stays_crowded) {
  // A crowding often passes (numpy's OpenBLAS threads spin for ~0.1 s after
  // a BLAS call): the setting comes back after one trial's length (30 ms).
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(2, TunedWork::Generation, kTokens);
  simulate(tuner, 0, 3, idle);
  tuner.record_crowded();
  const double first = seconds_until_a_trial(tuner);
  CHECK(first > 0.02 && first < 0.05);
  tuner.record_crowded();  // crowded again in that trial: twice as late
  const double second = seconds_until_a_trial(tuner);
  CHECK(second > 1.8 * first && second < 2.2 * first);
  tuner.record_crowded();
  CHECK(seconds_until_a_trial(tuner) > 1.8 * second);
  // Not crowded and faster this time: the setting wins its trial.
  simulate(tuner, 0, 20, idle);
  CHECK(tuner.threads() == 2);
  ThreadTuner::forget_learnt();
}

TEST(a_trial_due_when_a_call_ends_opens_the_next_call) {
  ThreadTuner::forget_learnt();
  ThreadTuner warm_up(2, TunedWork::Training);  // one long step on a busy machine, then the call ends
  simulate_long(warm_up, 1, long_busy, 250.0);
  CHECK(warm_up.threads() == 1);  // the trial was due
  ThreadTuner timed(2, TunedWork::Training);
  const LongRun run = simulate_long(timed, 5, long_busy, 250.0);
  CHECK(run.steps_at_max == 0);  // decided on its first step, against the warm-up's timing
  CHECK(timed.threads() == 1);
  CHECK(ThreadTuner(2, TunedWork::Training).threads() == 1);  // and remembered
}

TEST(a_due_trial_is_dropped_for_work_of_another_size) {
  ThreadTuner::forget_learnt();
  ThreadTuner warm_up(2, TunedWork::Training);
  simulate_long(warm_up, 1, long_busy, 250.0);
  ThreadTuner other(2, TunedWork::Training);
  CHECK(other.threads() == 1);
  other.record(0.01, 100);  // not the warm-up's 4096 tokens: back to the setting, nothing learnt
  CHECK(other.threads() == 2);
  CHECK(ThreadTuner(2, TunedWork::Training).threads() == 2);
}

// Generation's blocks end after 5 ms, so their tokens vary
// with the speed; the step size it names (rows x weights) is what a due
// trial must match. Busy: 1 ms per token at two threads, preempted 250
// times a second; one thread 20 us per token.
TEST(a_due_generation_trial_carries_over_blocks_of_any_length) {
  ThreadTuner::forget_learnt();
  constexpr long kStepSize = 70'000;
  ThreadTuner warm_up(2, TunedWork::Generation, kStepSize);
  long preemptions = process_preemptions();
  for (int block = 0; block < 200 && warm_up.threads() == 2; ++block)
    warm_up.record(0.005, 5, preemptions += 1);  // 5 tokens in 5 ms, preempted every 4 ms or so
  CHECK(warm_up.threads() == 1);                 // the trial of one thread is due: the call ends here
  ThreadTuner timed(2, TunedWork::Generation, kStepSize);
  CHECK(timed.threads() == 1);
  timed.record(0.005, 250, preemptions);  // a block of 250 tokens at one thread: 50x faster per token
  CHECK(timed.threads() == 1);            // the carried timing was kept, not dropped for other block tokens
  timed.record(0.03, 1500, preemptions);
  CHECK(timed.threads() == 1);
  CHECK(ThreadTuner(2, TunedWork::Generation, kStepSize).threads() == 1);  // decided and remembered

  ThreadTuner::forget_learnt();
  ThreadTuner again(2, TunedWork::Generation, kStepSize);
  for (int block = 0; block < 200 && again.threads() == 2; ++block) again.record(0.005, 5, preemptions += 1);
  ThreadTuner other_model(2, TunedWork::Generation, 2 * kStepSize);
  CHECK(other_model.threads() == 1);  // opens with the due trial ...
  other_model.record(0.005, 250, preemptions);
  CHECK(other_model.threads() == 2);  // ... dropped at once: another model's steps
}

TEST(a_due_trial_goes_on_over_calls_shorter_than_a_trial) {
  ThreadTuner::forget_learnt();
  constexpr long kStepSize = 70'000;
  ThreadTuner warm_up(2, TunedWork::Generation, kStepSize);
  long preemptions = process_preemptions();
  for (int block = 0; block < 200 && warm_up.threads() == 2; ++block) warm_up.record(0.005, 5, preemptions += 1);
  CHECK(warm_up.threads() == 1);  // a 30 ms trial of one thread is due
  // Three calls of 15 ms at one thread: the first block of each is not
  // timed (it also starts threads), so each adds 10 ms to the trial.
  for (int call = 0; call < 3; ++call) {
    ThreadTuner next(2, TunedWork::Generation, kStepSize);
    CHECK(next.threads() == 1);
    for (int block = 0; block < 3; ++block) next.record(0.005, 250, preemptions);
  }
  // Decided for one thread: work of any size now starts there and stays
  // (a trial still running would be dropped for another size).
  ThreadTuner other(2, TunedWork::Generation, 2 * kStepSize);
  other.record(0.005, 250, preemptions);
  CHECK(other.threads() == 1);
}

TEST(one_thread_setting_has_nothing_to_choose) {
  ThreadTuner::forget_learnt();
  ThreadTuner tuner(1, TunedWork::Training);
  const Run run = simulate(tuner, 0, 100, busy);
  CHECK(run.steps_at_max == 0 && run.last_threads == 1);
}

TEST(thread_limit_caps_and_restores) {
  set_num_threads(4);
  CHECK(active_threads() == 4);
  {
    ThreadLimit outer(2);
    CHECK(active_threads() == 2);
    {
      ThreadLimit inner(3);  // limits nest: never above the outer one
      CHECK(active_threads() == 2);
      ThreadLimit tighter(1);
      CHECK(active_threads() == 1);
    }
    CHECK(active_threads() == 2);
  }
  CHECK(active_threads() == 4);
  CHECK(get_num_threads() == 4);
  CHECK_THROWS(std::invalid_argument, ThreadLimit(0), "at least 1 thread");
}

TEST(run_team_runs_one_thread_inline_and_splits_a_team) {
  const std::thread::id caller = std::this_thread::get_id();
  int calls = 0;
  run_team(1, [&](const Team& team) {
    ++calls;
    CHECK(team.thread == 0 && team.size == 1);
    CHECK(std::this_thread::get_id() == caller);  // no OpenMP region at all
    team.barrier();
  });
  CHECK(calls == 1);
#ifdef _OPENMP
  // Each thread writes its slot, waits at the barrier, then sees the other's.
  std::atomic<int> slots[2] = {0, 0}, seen_other[2] = {0, 0}, teams[2] = {0, 0};
  for (int round = 0; round < 100; ++round) {
    run_team(2, [&](const Team& team) {
      const int thread = team.thread;
      teams[thread] = team.size;
      slots[thread] = round + 1;
      team.barrier();
      if (slots[1 - thread] == round + 1) ++seen_other[thread];
      team.barrier();
    });
  }
  CHECK(teams[0] == 2 && teams[1] == 2);
  CHECK(seen_other[0] == 100 && seen_other[1] == 100);
#endif
}

#ifdef _OPENMP
TEST(team_barrier_waits_for_late_members_in_every_round) {
  // One member arrives late each round (by more than the barrier's spin,
  // so the others also go to sleep and must be woken); no member may pass
  // a meeting before all have reached it, or miss one.
  for (int size : {2, 3}) {
    std::atomic<int> reached[3] = {0, 0, 0}, early = 0, team_sizes = 0;
    run_team(size, [&](const Team& team) {
      if (team.size == size) ++team_sizes;
      for (int round = 1; round <= 20; ++round) {
        if (round % team.size == team.thread) std::this_thread::sleep_for(std::chrono::milliseconds(round % 4));
        reached[team.thread] = round;
        team.barrier();
        for (int other = 0; other < team.size; ++other)
          if (reached[other] < round) ++early;
        team.barrier();
      }
    });
    CHECK(team_sizes == size);
    CHECK(early == 0);
    for (int thread = 0; thread < size; ++thread) CHECK(reached[thread] == 20);
  }
}

namespace {

// Runs `rounds` meetings of a two-member team whose member t is pinned to
// core cores[t] (its own affinity restored after); returns whether the
// team ended crowded. Checks that no member passes a meeting early.
bool pinned_team_crowded(const int cores[2], int rounds) {
  std::atomic<int> reached[2] = {0, 0}, early = 0, pinned = 0;
  bool crowded = false;
  run_team(2, [&](const Team& team) {
    cpu_set_t own, one;
    pthread_getaffinity_np(pthread_self(), sizeof own, &own);
    CPU_ZERO(&one);
    CPU_SET(cores[team.thread], &one);
    if (pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0) ++pinned;
    for (int round = 1; round <= rounds; ++round) {
      reached[team.thread] = round;
      team.barrier();
      if (reached[1 - team.thread] < round) ++early;
      team.barrier();
    }
    if (team.thread == 0) crowded = team.crowded();
    pthread_setaffinity_np(pthread_self(), sizeof own, &own);
  });
  CHECK(pinned == 2);
  CHECK(early == 0);
  CHECK(reached[0] == rounds && reached[1] == rounds);
  return crowded;
}

}  // namespace

TEST(team_barrier_marks_a_team_crowded_when_two_members_share_a_core) {
  // Members on one core can only take turns: a waiter that finds the
  // member it waits for on its own core yields to it (else each meeting
  // costs the whole spin and a sleep) and marks the team crowded.
  cpu_set_t allowed;
  CHECK(sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  std::vector<int> cores;
  for (int core = 0; core < CPU_SETSIZE; ++core)
    if (CPU_ISSET(core, &allowed)) cores.push_back(core);
  const int same[2] = {cores[0], cores[0]};
  CHECK(pinned_team_crowded(same, 2000));
  if (cores.size() >= 2) {  // members on two cores are never crowded
    const int apart[2] = {cores[0], cores[1]};
    CHECK(!pinned_team_crowded(apart, 2000));
  }
}
#endif

TEST_MAIN()
