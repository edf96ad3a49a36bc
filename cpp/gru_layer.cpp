// GRU layer (torch.nn.GRU equations, gate order r, z, n):
//   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)      z likewise
//   n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
//   h' = (1 - z) * n + z * h
// Reference path and graph-free step here; gru_fused.cpp has the fast path.
#include <cmath>

#include "fast_math.hpp"
#include "matmul.hpp"
#include "recurrent_layer.hpp"

namespace lmn {

GRULayer::GRULayer(int input_size, int hidden_size, Rng& rng) : RecurrentLayer(input_size, hidden_size, 3, rng) {}

RecurrentState GRULayer::zero_state(int B) const { return {Matrix(B, hidden_size_), Matrix()}; }

Var GRULayer::forward_reference(const Var& x, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_;
  Var h = make_leaf(state.h);
  std::vector<Var> outputs;
  for (int t = 0; t < T; ++t) {
    Var xp = linear(slice_rows(x, t * B, B), weight_ih, bias_ih);
    Var hp = linear(h, weight_hh, bias_hh);
    Var r = sigmoid(add(slice_cols(xp, 0, H), slice_cols(hp, 0, H)));
    Var z = sigmoid(add(slice_cols(xp, H, H), slice_cols(hp, H, H)));
    Var n = tanh(add(slice_cols(xp, 2 * H, H), multiply(r, slice_cols(hp, 2 * H, H))));
    // h' = n + z * (h - n)  ==  (1 - z) * n + z * h
    h = add(n, multiply(z, subtract(h, n)));
    outputs.push_back(h);
  }
  state.h = h->value;
  return concat_rows(outputs);
}

void GRULayer::step(const Matrix& x, RecurrentState& state, Matrix& gates) const {
  const int B = x.rows(), H = hidden_size_, G = 3 * H;
  // gates holds the input projection in columns [0, 3H) and the hidden one in [3H, 6H).
  if (gates.rows() != B || gates.cols() != 2 * G) gates.reset(B, 2 * G);
  for (int b = 0; b < B; ++b) {
    float* row = gates.row(b);
    for (int j = 0; j < G; ++j) row[j] = bias_ih->value[j], row[G + j] = bias_hh->value[j];
  }
  gemm(false, true, B, G, input_size_, 1.0f, x.data(), input_size_, weight_ih->value.data(), input_size_, 1.0f,
       gates.data(), 2 * G);
  gemm(false, true, B, G, H, 1.0f, state.h.data(), H, weight_hh->value.data(), H, 1.0f, gates.data() + G, 2 * G);
  for (int b = 0; b < B; ++b) {
    const float* xp = gates.row(b);
    const float* hp = xp + G;
    float* h = state.h.row(b);
    #pragma omp simd
    for (int j = 0; j < H; ++j) {
      const float r = fast::sigmoid(xp[j] + hp[j]), z = fast::sigmoid(xp[H + j] + hp[H + j]);
      const float n = fast::tanh(xp[2 * H + j] + r * hp[2 * H + j]);
      h[j] = (1.0f - z) * n + z * h[j];
    }
  }
}

}  // namespace lmn
