// GRU layer (torch.nn.GRU equations, gate order r, z, n):
//   r = sigmoid(x W_ir^T + b_ir + h W_hr^T + b_hr)      z likewise
//   n = tanh(x W_in^T + b_in + r * (h W_hn^T + b_hn))
//   h' = (1 - z) * n + z * h
// Reference path here; gru_fused.cpp has the fast path.
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

}  // namespace lmn
