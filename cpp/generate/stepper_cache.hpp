#pragma once
// A model's stepper weights, built on the first generate() and reused by the
// next ones until the weights change (building them takes about 10 ms for a
// 25 MB model). Thread-safe: concurrent readers get the same shared,
// read-only copy (one builds it, the others wait for it); whoever changes
// the model's weights calls clear(), and generations already running keep
// the copy they hold.
#include <memory>
#include <mutex>

#include "generate/stepper.hpp"

namespace lmn {

class StepperCache {
 public:
  std::shared_ptr<const StepperWeights> get(const SequenceModel& model, WeightPrecision precision);
  void clear();
  int builds() const;  // how many times get() built weights: for tests

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const StepperWeights> entries_[kWeightPrecisions];
  int builds_ = 0;
};

}  // namespace lmn
