// The fused LSTM recurrence: one graph node for T steps, fed with the input
// projection of all steps (computed before, as one GEMM or a table lookup).
// Forward: per step one GEMM for the recurrence and a single pointwise pass
// for all four gates. Backward: per step one pointwise pass and one GEMM for
// dh; dW_hh is accumulated over all steps by single GEMMs at the end, and
// the gate gradients flow back into the projection node.
#include <cmath>
#include <memory>
#include <vector>

#include "nn/batch_rows.hpp"
#include "nn/gate_math.hpp"
#include "nn/recurrent_layer.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

namespace {

// Everything the backward pass needs, saved by the forward pass.
struct LSTMTape {
  int T, B, H;
  Matrix h0, c0;                                   // (B, H) initial state
  Matrix acts;                                     // (T*B, 4H) gate activations i, f, g, o
  Matrix cells;                                    // (T*B, H)  c_t
  Matrix tanh_c;                                   // (T*B, H)  tanh(c_t)
  std::shared_ptr<const std::vector<int>> tokens;  // ProjectedInput::tokens
};

}  // namespace

Var LSTMLayer::forward_recurrence(const ProjectedInput& input, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_, G = 4 * H;
  auto tape = std::make_shared<LSTMTape>();
  *tape = {T, B, H, state.h, state.c, {}, {}, {}, input.tokens};
  tape->acts = Matrix(T * B, G, Matrix::kUninitialized);
  tape->cells = Matrix(T * B, H, Matrix::kUninitialized);
  tape->tanh_c = Matrix(T * B, H, Matrix::kUninitialized);
  Matrix out(T * B, H, Matrix::kUninitialized);  // h_t, the layer output
  Matrix& acts = tape->acts;

  std::vector<float> bias(G);  // b_ih + b_hh
  for (int j = 0; j < G; ++j) bias[j] = bias_ih->value[j] + bias_hh->value[j];

  PackedMatrix w_hh_t;  // W_hh^T, packed once for all T steps
  w_hh_t.pack(weight_hh->value.data(), H, true, H, G);
  for_batch_rows(T, B, H, false, [&](int t, int b0, int b1) {
    const float* h_prev = t == 0 ? tape->h0.data() : out.row((t - 1) * B);
    const float* c_prev = t == 0 ? tape->c0.data() : tape->cells.row((t - 1) * B);
    float* a = acts.row(t * B);
    // a = h_prev W_hh^T for these rows; the pass below adds U + bias
    gemm_packed_on_this_thread(false, b1 - b0, 1.0f, h_prev + static_cast<long>(b0) * H, H, w_hh_t, 0.0f,
                               a + static_cast<long>(b0) * G, G);
    float* c = tape->cells.row(t * B);
    float* tc = tape->tanh_c.row(t * B);
    float* h = out.row(t * B);
    for (int b = b0; b < b1; ++b) {
      float* ab = a + static_cast<long>(b) * G;
      const float* ub = input.row(t * B + b);
      const float* bb = bias.data();
      // Activations a gate slice at a time, then the cells (gate_math.hpp).
      const auto pre = [ab, ub, bb](int j) { return ab[j] + ub[j] + bb[j]; };
      gates::sigmoid_slice(ab, 0, H, pre);
      gates::sigmoid_slice(ab, H, 2 * H, pre);
      gates::tanh_slice(ab, 2 * H, 3 * H, pre);
      gates::sigmoid_slice(ab, 3 * H, 4 * H, pre);
#pragma omp simd
      for (int j = 0; j < H; ++j) {
        const int k = b * H + j;
        gates::LSTMCell<float> s;
        s.i = ab[j], s.f = ab[H + j], s.g = ab[2 * H + j], s.o = ab[3 * H + j];
        gates::lstm_state<gates::FastMath>(s, c_prev[k]);
        c[k] = s.c, tc[k] = s.tanh_c, h[k] = s.h;
      }
    }
  });
  state.h = Matrix(B, H, out.row((T - 1) * B));
  state.c = Matrix(B, H, tape->cells.row((T - 1) * B));

  return make_op(std::move(out), {input.values, weight_hh, bias_ih, bias_hh}, "lstm_fused", [tape](Node& self) {
    const int T = tape->T, B = tape->B, H = tape->H, G = 4 * H;
    Node& w_hh = *self.parents[1];
    const Matrix& dY = self.grad;  // (T*B, H)
    const Matrix& Y = self.value;
    // Gradients of the gate pre-activations, which are U's (ProjectionGradient).
    ProjectionGradient dU(*self.parents[0], *tape->tokens, T * B, G);
    Matrix& dG = dU.matrix();
    Matrix dh_next(B, H), dc_next(B, H);
    PackedMatrix w_hh_packed;
    w_hh_packed.pack(w_hh.value.data(), H, false, G, H);
    for_batch_rows(T, B, H, true, [&](int t, int b0, int b1) {
      const float* a = tape->acts.row(t * B);
      const float* c_prev = t == 0 ? tape->c0.data() : tape->cells.row((t - 1) * B);
      const float* tc = tape->tanh_c.row(t * B);
      const float* dy = dY.row(t * B);
      float* dg = dG.row(t * B);
      for (int b = b0; b < b1; ++b) {
        const float* ab = a + static_cast<long>(b) * G;
        float* dgb = dg + static_cast<long>(b) * G;
#pragma omp simd
        for (int j = 0; j < H; ++j) {
          const int k = b * H + j;
          const auto d = gates::lstm_cell_backward(ab[j], ab[H + j], ab[2 * H + j], ab[3 * H + j], tc[k], c_prev[k],
                                                   dy[k] + dh_next[k], dc_next[k]);
          dgb[j] = d.i, dgb[H + j] = d.f, dgb[2 * H + j] = d.g, dgb[3 * H + j] = d.o;
          dc_next[k] = d.c_prev;
        }
      }
      // dh_{t-1} = dG_t W_hh (the initial state is a constant: skip it)
      if (t > 0) {
        gemm_packed_on_this_thread(false, b1 - b0, 1.0f, dg + static_cast<long>(b0) * G, G, w_hh_packed, 0.0f,
                                   dh_next.row(b0), H);
      }
    });
    if (w_hh.requires_grad) {
      // dW_hh = sum_t dG_t^T h_{t-1}; h_{t-1} is h0 for t = 0, else Y rows.
      Matrix& dw = w_hh.grad_buffer();
      gemm(true, false, G, H, B, 1.0f, dG.data(), G, tape->h0.data(), H, 1.0f, dw.data(), H);
      if (T > 1) gemm(true, false, G, H, (T - 1) * B, 1.0f, dG.row(B), G, Y.data(), H, 1.0f, dw.data(), H);
    }
    const Matrix db = dU.finish_with_column_sums();
    accumulate_grad(*self.parents[2], db);
    accumulate_grad(*self.parents[3], db);
  });
}

}  // namespace lmn
