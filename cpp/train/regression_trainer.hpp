#pragma once
// Training, evaluation and prediction for the sequence regressor on
// real-valued sequences of different lengths, through the same epoch loop
// as the token models (training_task.hpp).
//
// A sequence is x (T, F) with targets y: (T, O), one target per step, or
// (1, O) with `many_to_one`, one target for the last step. With outputs at
// every step, sequences are cut into windows of seq_len steps like token
// sequences; many-to-one sequences are never cut (seq_len is unused). Short
// windows are zero-padded in a batch and their padding has no target.
#include <string>
#include <vector>

#include "nn/regressor.hpp"
#include "train/trainer.hpp"

namespace lmn {

enum class RegressionLoss { MSE, MAE, Huber, BCEWithLogits };
RegressionLoss parse_regression_loss(const std::string& name);  // "mse", "mae", "huber", "bce_with_logits"
Var regression_loss(RegressionLoss kind, const Var& prediction, const Matrix& target);

struct RegressionSequence {
  Matrix x;  // (T, F)
  Matrix y;  // (T, O), or (1, O) for many-to-one
};
using RegressionData = std::vector<RegressionSequence>;

struct RegressionSetup {
  bool many_to_one = false;
  RegressionLoss loss = RegressionLoss::MSE;
};

// Throws naming the sequence and the shape that does not fit the model.
void check_regression_data(const SequenceRegressor& model, const RegressionData& data, bool many_to_one,
                           const char* which);

FitResult fit(SequenceRegressor& model, TrainingState& state, const TrainConfig& config, const RegressionSetup& setup,
              const RegressionData& train, const RegressionData& val, const FitCallbacks& callbacks = {});

// Mean loss over all targets (accuracy and perplexity are NaN).
EvalResult evaluate(const SequenceRegressor& model, const RegressionSetup& setup, const RegressionData& data,
                    int batch_size, int seq_len);

// The loss over all of `data` as one batch from a zero state, without
// windows or truncation (for gradients and parity checks).
Var batch_loss(const SequenceRegressor& model, const RegressionSetup& setup, const RegressionData& data,
               bool fused = true);

// Outputs for each input sequence from a zero state: (T_i, O), or (1, O) many-to-one.
std::vector<Matrix> predict(const SequenceRegressor& model, const std::vector<Matrix>& inputs, bool many_to_one,
                            int batch_size);

// Runs `history` (T, F), then feeds each output back as the next input
// (x = y * feedback_scale + feedback_shift per feature, which lets the
// caller move between output and input scaling; needs O == F) for `steps`
// steps. Returns the (steps, O) outputs.
Matrix forecast(const SequenceRegressor& model, const Matrix& history, int steps,
                const std::vector<float>& feedback_scale, const std::vector<float>& feedback_shift);

}  // namespace lmn
