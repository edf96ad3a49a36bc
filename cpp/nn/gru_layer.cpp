// GRU layer (torch.nn.GRU, gate order r, z, n; equations in
// gate_math.hpp). Reference path here; gru_fused.cpp has the fast path.
#include "base/interrupt.hpp"
#include "nn/gate_math.hpp"
#include "nn/recurrent_layer.hpp"

namespace lmn {

GRULayer::GRULayer(int input_size, int hidden_size, Rng& rng, InitScheme scheme)
    : RecurrentLayer(input_size, hidden_size, 3, rng, scheme) {}

RecurrentState GRULayer::zero_state(int B) const { return {Matrix(B, hidden_size_), Matrix()}; }

Var GRULayer::forward_reference(const Var& x, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_;
  Var h = make_leaf(state.h);
  std::vector<Var> outputs;
  for (int t = 0; t < T; ++t) {
    poll_interrupt();  // a long sequence can be stopped (Ctrl-C)
    Var xp = linear(slice_rows(x, t * B, B), weight_ih, bias_ih);
    Var hp = linear(h, weight_hh, bias_hh);
    h = gates::gru_cell<gates::GraphMath>(add(slice_cols(xp, 0, H), slice_cols(hp, 0, H)),
                                          add(slice_cols(xp, H, H), slice_cols(hp, H, H)), slice_cols(xp, 2 * H, H),
                                          slice_cols(hp, 2 * H, H), h)
            .h;
    outputs.push_back(h);
  }
  state.h = h->value;
  return concat_rows(outputs);
}

}  // namespace lmn
