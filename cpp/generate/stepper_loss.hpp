#pragma once
// The loss generation would see: mean next-token cross-entropy of whole
// sequences stepped through a Stepper (state carried from the first token),
// so the cost of reduced-precision weights (bfloat16, int8) is measured on
// held-out data with the very code that samples.
#include <memory>
#include <vector>

#include "generate/stepper.hpp"

namespace lmn {

struct StepperLoss {
  double loss = 0.0;  // mean over predicted tokens (nats)
  long tokens = 0;    // predicted tokens: the sum of (length - 1)
};

// Sequences of fewer than two tokens predict nothing and are skipped;
// up to `batch` sequences step side by side.
StepperLoss stepper_loss(std::shared_ptr<const StepperWeights> weights, const std::vector<std::vector<int>>& sequences,
                         int batch = 32);

}  // namespace lmn
