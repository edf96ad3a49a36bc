// LSTM layer (torch.nn.LSTM, gate order i, f, g, o; equations in
// gate_math.hpp). This file holds the reference path (primitive ops, one
// step at a time); lstm_fused.cpp holds the fast sequence path.
#include "base/interrupt.hpp"
#include "nn/gate_math.hpp"
#include "nn/recurrent_layer.hpp"

namespace lmn {

LSTMLayer::LSTMLayer(int input_size, int hidden_size, Rng& rng, InitScheme scheme)
    : RecurrentLayer(input_size, hidden_size, 4, rng, scheme) {}

RecurrentState LSTMLayer::zero_state(int B) const { return {Matrix(B, hidden_size_), Matrix(B, hidden_size_)}; }

Var LSTMLayer::forward_reference(const Var& x, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_;
  Var h = make_leaf(state.h), c = make_leaf(state.c);
  std::vector<Var> outputs;
  for (int t = 0; t < T; ++t) {
    poll_interrupt();  // a long sequence can be stopped (Ctrl-C)
    Var x_t = slice_rows(x, t * B, B);
    Var gates = add(linear(x_t, weight_ih, bias_ih), linear(h, weight_hh, bias_hh));
    const auto cell = gates::lstm_cell<gates::GraphMath>(slice_cols(gates, 0, H), slice_cols(gates, H, H),
                                                         slice_cols(gates, 2 * H, H), slice_cols(gates, 3 * H, H), c);
    c = cell.c;
    h = cell.h;
    outputs.push_back(h);
  }
  state.h = h->value;
  state.c = c->value;
  return concat_rows(outputs);
}

}  // namespace lmn
