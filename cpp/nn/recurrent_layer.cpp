#include "nn/recurrent_layer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "tensor/init.hpp"
#include "tensor/matrix_math.hpp"

namespace lmn {

RecurrentLayer::RecurrentLayer(int input_size, int hidden_size, int gates, Rng& rng, InitScheme scheme)
    : input_size_(input_size), hidden_size_(hidden_size) {
  if (input_size <= 0 || hidden_size <= 0) {
    throw std::invalid_argument("recurrent layer: input_size and hidden_size must be positive, got " +
                                std::to_string(input_size) + " and " + std::to_string(hidden_size));
  }
  const int G = gates * hidden_size;
  if (scheme == InitScheme::Xavier) {  // per gate block, zero biases
    Matrix w_ih(G, input_size), w_hh(G, hidden_size);
    for (int g = 0; g < gates; ++g) {
      const Matrix a = xavier_uniform(hidden_size, input_size, rng);
      const Matrix b = xavier_uniform(hidden_size, hidden_size, rng);
      std::copy_n(a.data(), a.size(), w_ih.row(g * hidden_size));
      std::copy_n(b.data(), b.size(), w_hh.row(g * hidden_size));
    }
    weight_ih = make_leaf(std::move(w_ih), true, "weight_ih");
    weight_hh = make_leaf(std::move(w_hh), true, "weight_hh");
    bias_ih = make_leaf(Matrix(1, G), true, "bias_ih");
    bias_hh = make_leaf(Matrix(1, G), true, "bias_hh");
    return;
  }
  const float bound = 1.0f / std::sqrt(static_cast<float>(hidden_size));  // torch.nn.LSTM/GRU
  weight_ih = make_leaf(uniform_matrix(G, input_size, bound, rng), true, "weight_ih");
  weight_hh = make_leaf(uniform_matrix(G, hidden_size, bound, rng), true, "weight_hh");
  bias_ih = make_leaf(uniform_matrix(1, G, bound, rng), true, "bias_ih");
  bias_hh = make_leaf(uniform_matrix(1, G, bound, rng), true, "bias_hh");
}

void RecurrentLayer::require_state(int B, const RecurrentState& state) const {
  if (state.h.rows() != B || state.h.cols() != hidden_size_) {
    throw ShapeError("recurrent layer: state h " + state.h.shape_str() + " should be (" + std::to_string(B) + ", " +
                     std::to_string(hidden_size_) + ")");
  }
}

Var RecurrentLayer::forward_sequence(const Var& x, int T, int B, RecurrentState& state, bool fused) const {
  if (T <= 0 || B <= 0) {
    throw ShapeError("recurrent layer: need T > 0 and B > 0, got T=" + std::to_string(T) + " B=" + std::to_string(B));
  }
  if (x->value.rows() != static_cast<long>(T) * B || x->value.cols() != input_size_) {
    throw ShapeError("recurrent layer: input " + x->value.shape_str() + " should be (" +
                     std::to_string(static_cast<long>(T) * B) + ", " + std::to_string(input_size_) +
                     ") for T=" + std::to_string(T) + " B=" + std::to_string(B));
  }
  require_state(B, state);
  if (!fused) return forward_reference(x, T, B, state);
  // All steps' input projections in one GEMM; biases join in the recurrence.
  return forward_recurrence({linear(x, weight_ih, nullptr), {}}, T, B, state);
}

Var RecurrentLayer::forward_projected(const ProjectedInput& input, int T, int B, RecurrentState& state) const {
  const int G = weight_ih->value.rows();
  const Matrix& values = input.values->value;
  const std::vector<int>& tokens = *input.tokens;
  const bool by_token = !tokens.empty();
  const long positions = static_cast<long>(T) * B;
  const long rows = by_token ? static_cast<long>(tokens.size()) : values.rows();
  if (T <= 0 || B <= 0 || rows != positions || values.cols() != G) {
    throw ShapeError("recurrent layer: projected input " + values.shape_str() +
                     (by_token ? " read by " + std::to_string(rows) + " tokens" : "") + " should give " +
                     std::to_string(positions) + " rows of " + std::to_string(G) + " for T=" + std::to_string(T) +
                     " B=" + std::to_string(B));
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= values.rows()) {
      throw std::out_of_range("recurrent layer: token " + std::to_string(tokens[i]) + " at position " +
                              std::to_string(i) + " is outside the projected vocabulary [0, " +
                              std::to_string(values.rows()) + ")");
    }
  }
  require_state(B, state);
  return forward_recurrence(input, T, B, state);
}

ProjectionGradient::ProjectionGradient(Node& source, const std::vector<int>& tokens, int rows, int cols)
    : source_(source), tokens_(tokens), direct_(tokens.empty() && source.grad.empty()) {
  if (!direct_) spare_ = Matrix(rows, cols, Matrix::kUninitialized);
  grad_ = direct_ ? &source.grad_to_overwrite() : &spare_;
}

Matrix ProjectionGradient::finish_with_column_sums() {
  if (!tokens_.empty() && source_.requires_grad) {
    Matrix sums(1, spare_.cols());
    scatter_add_rows(spare_, tokens_, source_.grad_buffer(), &sums);
    return sums;
  }
  Matrix sums = sum_rows(*grad_);
  if (!direct_ && tokens_.empty()) accumulate_grad(source_, spare_);
  return sums;
}

}  // namespace lmn
