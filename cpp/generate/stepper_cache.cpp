#include "generate/stepper_cache.hpp"

namespace lmn {

std::shared_ptr<const StepperWeights> StepperCache::get(const SequenceModel& model, WeightPrecision precision) {
  const std::lock_guard lock(mutex_);
  auto& entry = entries_[static_cast<int>(precision)];
  if (!entry) {
    entry = std::make_shared<const StepperWeights>(model, precision);
    ++builds_;
  }
  return entry;
}

void StepperCache::clear() {
  const std::lock_guard lock(mutex_);
  for (auto& entry : entries_) entry.reset();
}

int StepperCache::builds() const {
  const std::lock_guard lock(mutex_);
  return builds_;
}

}  // namespace lmn
