// LSTM layer (torch.nn.LSTM equations, gate order i, f, g, o):
//   i = sigmoid(x W_ii^T + b_ii + h W_hi^T + b_hi)      f, o likewise
//   g = tanh(x W_ig^T + b_ig + h W_hg^T + b_hg)
//   c' = f * c + i * g,   h' = o * tanh(c')
// This file holds the reference path (primitive ops, one step at a time)
// and the graph-free step; lstm_fused.cpp holds the fast sequence path.
#include <cmath>

#include "fast_math.hpp"
#include "matmul.hpp"
#include "recurrent_layer.hpp"

namespace lmn {

LSTMLayer::LSTMLayer(int input_size, int hidden_size, Rng& rng) : RecurrentLayer(input_size, hidden_size, 4, rng) {}

RecurrentState LSTMLayer::zero_state(int B) const {
  return {Matrix(B, hidden_size_), Matrix(B, hidden_size_)};
}

Var LSTMLayer::forward_reference(const Var& x, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_;
  Var h = make_leaf(state.h), c = make_leaf(state.c);
  std::vector<Var> outputs;
  for (int t = 0; t < T; ++t) {
    Var x_t = slice_rows(x, t * B, B);
    Var gates = add(linear(x_t, weight_ih, bias_ih), linear(h, weight_hh, bias_hh));
    Var i = sigmoid(slice_cols(gates, 0, H));
    Var f = sigmoid(slice_cols(gates, H, H));
    Var g = tanh(slice_cols(gates, 2 * H, H));
    Var o = sigmoid(slice_cols(gates, 3 * H, H));
    c = add(multiply(f, c), multiply(i, g));
    h = multiply(o, tanh(c));
    outputs.push_back(h);
  }
  state.h = h->value;
  state.c = c->value;
  return concat_rows(outputs);
}

void LSTMLayer::step(const Matrix& x, RecurrentState& state, Matrix& gates) const {
  const int B = x.rows(), H = hidden_size_;
  if (gates.rows() != B || gates.cols() != 4 * H) gates.reset(B, 4 * H);
  for (int b = 0; b < B; ++b) {
    float* row = gates.row(b);
    for (int j = 0; j < 4 * H; ++j) row[j] = bias_ih->value[j] + bias_hh->value[j];
  }
  matmul_into(gates, x, weight_ih->value, false, true, 1.0f, 1.0f);
  matmul_into(gates, state.h, weight_hh->value, false, true, 1.0f, 1.0f);
  for (int b = 0; b < B; ++b) {
    const float* a = gates.row(b);
    float* h = state.h.row(b);
    float* c = state.c.row(b);
    #pragma omp simd
    for (int j = 0; j < H; ++j) {
      const float i = fast::sigmoid(a[j]), f = fast::sigmoid(a[H + j]);
      const float g = fast::tanh(a[2 * H + j]), o = fast::sigmoid(a[3 * H + j]);
      c[j] = f * c[j] + i * g;
      h[j] = o * fast::tanh(c[j]);
    }
  }
}

}  // namespace lmn
