// The fused sequence path against the reference composition of primitive
// ops: same logits, same loss, same gradient for every parameter.
#include <cmath>
#include <string>

#include "base/interrupt.hpp"
#include "base/parallel.hpp"
#include "check.hpp"
#include "nn/model.hpp"
#include "tensor/gemm.hpp"

using namespace lmn;

namespace {

std::vector<int> random_tokens(int n, int V, Rng& rng) {
  std::vector<int> t(n);
  for (auto& x : t) x = static_cast<int>(rng.below(V));
  return t;
}

struct Outcome {
  Matrix logits;
  float loss;
  std::vector<Matrix> grads;
  ModelState final_state;
};

Outcome run(const SequenceModel& model, const std::vector<int>& x, const std::vector<int>& y, int T, int B, bool fused,
            bool training) {
  for (const auto& p : model.parameters()) p->zero_grad();
  ModelState state = model.zero_state(B);
  Rng dropout_rng(3);
  Var logits = model.forward(x, T, B, state, training, dropout_rng, fused);
  Var loss = cross_entropy_loss(logits, y);
  Outcome out{logits->value, loss->value[0], {}, state};
  backward(loss);
  for (const auto& p : model.parameters()) out.grads.push_back(p->grad);
  return out;
}

void compare(const ModelConfig& config, int T, int B, bool training) {
  SequenceModel model(config, 11);
  Rng rng(17);
  // Non-zero biases so every term of the equations is exercised.
  for (const auto& [name, p] : model.named_parameters())
    if (name.find("bias") != std::string::npos)
      for (std::size_t i = 0; i < p->value.size(); ++i) p->value[i] = rng.uniform(-0.5f, 0.5f);
  const auto x = random_tokens(T * B, config.vocab_size, rng), y = random_tokens(T * B, config.vocab_size, rng);
  const Outcome fused = run(model, x, y, T, B, true, training);
  const Outcome reference = run(model, x, y, T, B, false, training);
  CHECK(max_abs(subtract(fused.logits, reference.logits)) < 1e-5f);
  CHECK_NEAR(fused.loss, reference.loss, 1e-6);
  for (std::size_t i = 0; i < fused.grads.size(); ++i) {
    const float scale = std::max(max_abs(reference.grads[i]), 1e-6f);
    const float rel = max_abs(subtract(fused.grads[i], reference.grads[i])) / scale;
    if (!(rel < 1e-4f)) {
      check::fail(
          __FILE__, __LINE__,
          cell_name(config.cell) + " " + model.named_parameters()[i].first + " relative error " + std::to_string(rel));
    }
  }
  for (std::size_t l = 0; l < fused.final_state.size(); ++l) {
    CHECK(max_abs(subtract(fused.final_state[l].h, reference.final_state[l].h)) < 1e-6f);
  }
}

}  // namespace

TEST(fused_equals_reference_lstm) {
  compare({CellType::LSTM, 9, 6, 1, 0, 0.0f}, 5, 3, false);
  compare({CellType::LSTM, 9, 6, 3, 4, 0.0f}, 7, 2, false);
  compare({CellType::LSTM, 5, 8, 2, 0, 0.0f}, 1, 1, false);
}

TEST(fused_equals_reference_gru) {
  compare({CellType::GRU, 9, 6, 1, 0, 0.0f}, 5, 3, false);
  compare({CellType::GRU, 9, 6, 3, 4, 0.0f}, 7, 2, false);
  compare({CellType::GRU, 5, 8, 2, 0, 0.0f}, 1, 1, false);
}

TEST(fused_equals_reference_with_dropout_in_training) {
  compare({CellType::LSTM, 7, 6, 2, 3, 0.4f}, 6, 4, true);
  compare({CellType::GRU, 7, 6, 2, 3, 0.4f}, 6, 4, true);
}

TEST(fused_path_is_the_same_with_two_threads) {
  // Batch x hidden above kParallelPointwise, so each thread runs the
  // recurrence for its own rows (33: 16 and 17), and GEMMs above theirs.
  for (CellType cell : {CellType::LSTM, CellType::GRU}) {
    SequenceModel model({cell, 40, 128, 2, 32, 0.0f}, 2);
    Rng rng(4);
    const int T = 16, B = 33;
    CHECK(B * 128 >= kParallelPointwise);
    const auto x = random_tokens(T * B, 40, rng), y = random_tokens(T * B, 40, rng);
    set_num_threads(1);
    const Outcome one = run(model, x, y, T, B, true, false);
    set_num_threads(2);
    const Outcome two = run(model, x, y, T, B, true, false);
    set_num_threads(1);
    CHECK(max_abs(subtract(one.logits, two.logits)) == 0.0f);
    for (std::size_t i = 0; i < one.grads.size(); ++i) CHECK(max_abs(subtract(one.grads[i], two.grads[i])) == 0.0f);
    for (std::size_t l = 0; l < one.final_state.size(); ++l) {
      CHECK(max_abs(subtract(one.final_state[l].h, two.final_state[l].h)) == 0.0f);
    }
  }
}

TEST(a_recurrence_split_over_threads_stops_on_ctrl_c) {
  // Thread 0 of the team polls; the throw cannot leave the team, so it is
  // passed on after it: Interrupted, and the next call runs normally.
  SequenceModel model({CellType::GRU, 40, 128, 1, 32, 0.0f}, 2);
  Rng rng(5);
  const int T = 40, B = 64;  // 80 polls a run: more than the 32 calls between clock reads
  const auto x = random_tokens(T * B, 40, rng), y = random_tokens(T * B, 40, rng);
  set_num_threads(2);
  const Outcome before = run(model, x, y, T, B, true, false);
  set_interrupt_hook([] { return true; });
  CHECK_THROWS(Interrupted, run(model, x, y, T, B, true, false), "interrupted");
  set_interrupt_hook(nullptr);
  const Outcome after = run(model, x, y, T, B, true, false);
  set_num_threads(1);
  CHECK(max_abs(subtract(before.logits, after.logits)) == 0.0f);
}

TEST(parameter_names_follow_torch) {
  SequenceModel lstm({CellType::LSTM, 10, 4, 2, 3, 0.0f}, 0);
  const auto& n = lstm.named_parameters();
  CHECK(n.size() == 11);
  CHECK(n[0].first == "embedding.weight" && n[0].second->value.rows() == 10 && n[0].second->value.cols() == 3);
  CHECK(n[1].first == "lstm.weight_ih_l0" && n[1].second->value.rows() == 16 && n[1].second->value.cols() == 3);
  CHECK(n[6].first == "lstm.weight_hh_l1" && n[6].second->value.cols() == 4);
  CHECK(n[9].first == "fc.weight" && n[9].second->value.rows() == 10);
  SequenceModel gru({CellType::GRU, 10, 4, 1, 0, 0.0f}, 0);
  CHECK(gru.named_parameters()[0].first == "gru.weight_ih_l0");
  CHECK(gru.named_parameters()[0].second->value.rows() == 12 && gru.named_parameters()[0].second->value.cols() == 10);
}

TEST(token_models_start_from_xavier_weights_and_zero_biases) {
  // InitScheme::Xavier (chosen by benchmarks/quality.py): every weight within its Xavier bound, biases zero.
  SequenceModel model({CellType::LSTM, 50, 16, 2, 40, 0.0f}, 3);
  for (const auto& [name, param] : model.named_parameters()) {
    const Matrix& w = param->value;
    if (name.find("bias") != std::string::npos) {
      CHECK(max_abs(w) == 0.0f);
      continue;
    }
    const int fan_out = name.rfind("lstm.", 0) == 0 ? 16 : w.rows();  // per gate block
    const float bound = std::sqrt(6.0f / static_cast<float>(fan_out + w.cols()));
    CHECK(max_abs(w) <= bound && max_abs(w) > 0.8f * bound);
  }
}

TEST(bad_shapes_and_tokens_are_named) {
  SequenceModel model({CellType::LSTM, 5, 4, 1, 0, 0.0f}, 0);
  ModelState state = model.zero_state(2);
  Rng rng(0);
  CHECK_THROWS(std::out_of_range, model.forward({0, 1, 5, 2}, 2, 2, state, false, rng), "token 5 at position 2");
  CHECK_THROWS(ShapeError, model.forward({0, 1, 2}, 2, 2, state, false, rng), "3 tokens");
  CHECK_THROWS(std::invalid_argument, SequenceModel({CellType::LSTM, 0, 4, 1, 0, 0.0f}, 0), "vocab_size");
  CHECK_THROWS(std::invalid_argument, SequenceModel({CellType::LSTM, 5, 4, 1, 0, 1.0f}, 0), "dropout");
  // A layer fed rows of a vocabulary's projection by token.
  const RecurrentLayer& layer = model.layer(0);
  const ProjectedInput three{vocab_projection(nullptr, layer.weight_ih), {0, 1, 2}};
  CHECK_THROWS(ShapeError, layer.forward_projected(three, 2, 2, state[0]),
               "(5, 16) read by 3 tokens should give 4 rows");
  const ProjectedInput outside{vocab_projection(nullptr, layer.weight_ih), {0, 1, 5, 2}};
  CHECK_THROWS(std::out_of_range, layer.forward_projected(outside, 2, 2, state[0]), "token 5 at position 2");
}

TEST_MAIN()
