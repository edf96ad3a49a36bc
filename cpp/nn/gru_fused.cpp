// The fused GRU recurrence: one graph node for T steps, the same shape of
// work as lstm_fused.cpp (fed with the input projection of all steps, one
// recurrent GEMM and one pointwise pass per step, dW_hh as whole-sequence
// GEMMs, gradients of the projection handed back to its node).
#include <cmath>
#include <memory>
#include <vector>

#include "nn/batch_rows.hpp"
#include "nn/gate_math.hpp"
#include "nn/recurrent_layer.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

namespace {

struct GRUTape {
  int T, B, H;
  Matrix h0;                                       // (B, H)
  Matrix acts;                                     // (T*B, 3H) r, z, n
  Matrix hp_n;                                     // (T*B, H)  h W_hn^T + b_hn, which r multiplies
  std::shared_ptr<const std::vector<int>> tokens;  // ProjectedInput::tokens
};

}  // namespace

Var GRULayer::forward_recurrence(const ProjectedInput& input, int T, int B, RecurrentState& state) const {
  const int H = hidden_size_, G = 3 * H;
  auto tape = std::make_shared<GRUTape>();
  *tape = {
      T,           B, H, state.h, Matrix(T * B, G, Matrix::kUninitialized), Matrix(T * B, H, Matrix::kUninitialized),
      input.tokens};
  Matrix out(T * B, H, Matrix::kUninitialized);
  Matrix& acts = tape->acts;
  Matrix hp(B, G, Matrix::kUninitialized);  // hidden projection of the current step

  // Biases as the pointwise pass adds them: r and z take b_ih + b_hh; the
  // candidate keeps b_in on the input side and b_hn inside r * (...).
  std::vector<float> bias(G + H);
  for (int j = 0; j < G; ++j) bias[j] = bias_ih->value[j] + (j < 2 * H ? bias_hh->value[j] : 0.0f);
  for (int j = 0; j < H; ++j) bias[G + j] = bias_hh->value[2 * H + j];

  PackedMatrix w_hh_t;  // W_hh^T, packed once for all T steps
  w_hh_t.pack(weight_hh->value.data(), H, true, H, G);
  for_batch_rows(T, B, H, false, [&](int t, int b0, int b1) {
    const float* h_prev = t == 0 ? tape->h0.data() : out.row((t - 1) * B);
    gemm_packed_on_this_thread(false, b1 - b0, 1.0f, h_prev + static_cast<long>(b0) * H, H, w_hh_t, 0.0f, hp.row(b0),
                               G);  // + b_hh below
    float* a = acts.row(t * B);
    float* hpn = tape->hp_n.row(t * B);
    float* h = out.row(t * B);
    for (int b = b0; b < b1; ++b) {
      float* ab = a + static_cast<long>(b) * G;
      const float* ub = input.row(t * B + b);
      const float* hb = hp.row(b);
      const float* bb = bias.data();
      // r and z a slice at a time, then the cells (gate_math.hpp).
      const auto pre = [ub, hb, bb](int j) { return ub[j] + hb[j] + bb[j]; };
      gates::sigmoid_slice(ab, 0, H, pre);
      gates::sigmoid_slice(ab, H, 2 * H, pre);
#pragma omp simd
      for (int j = 0; j < H; ++j) {
        const int k = b * H + j;
        const float hn = hb[2 * H + j] + bb[G + j];
        gates::GRUCell<float> s;
        s.r = ab[j], s.z = ab[H + j];
        gates::gru_state<gates::FastMath>(s, ub[2 * H + j] + bb[2 * H + j], hn, h_prev[k]);
        ab[2 * H + j] = s.n;
        hpn[k] = hn;
        h[k] = s.h;
      }
    }
  });
  state.h = Matrix(B, H, out.row((T - 1) * B));

  return make_op(std::move(out), {input.values, weight_hh, bias_ih, bias_hh}, "gru_fused", [tape](Node& self) {
    const int T = tape->T, B = tape->B, H = tape->H, G = 3 * H;
    Node& w_hh = *self.parents[1];
    const Matrix& dY = self.grad;
    const Matrix& Y = self.value;
    // Grads of the input projection U (ProjectionGradient) and the hidden one.
    ProjectionGradient dU(*self.parents[0], *tape->tokens, T * B, G);
    Matrix& dXp = dU.matrix();
    Matrix dHp(T * B, G, Matrix::kUninitialized);
    Matrix dh_next(B, H);
    PackedMatrix w_hh_packed;
    w_hh_packed.pack(w_hh.value.data(), H, false, G, H);
    for_batch_rows(T, B, H, true, [&](int t, int b0, int b1) {
      const float* h_prev = t == 0 ? tape->h0.data() : Y.row((t - 1) * B);
      const float* a = tape->acts.row(t * B);
      const float* hpn = tape->hp_n.row(t * B);
      const float* dy = dY.row(t * B);
      float* dxp = dXp.row(t * B);
      float* dhp = dHp.row(t * B);
      for (int b = b0; b < b1; ++b) {
        const float* ab = a + static_cast<long>(b) * G;
        float* dxb = dxp + static_cast<long>(b) * G;
        float* dhb = dhp + static_cast<long>(b) * G;
#pragma omp simd
        for (int j = 0; j < H; ++j) {
          const int k = b * H + j;
          const float r = ab[j];
          const auto d = gates::gru_cell_backward(r, ab[H + j], ab[2 * H + j], hpn[k], h_prev[k], dy[k] + dh_next[k]);
          dxb[j] = d.r, dxb[H + j] = d.z, dxb[2 * H + j] = d.n;
          dhb[j] = d.r, dhb[H + j] = d.z, dhb[2 * H + j] = d.n * r;
          dh_next[k] = d.h_prev;  // the GEMM below adds the path through W_hh
        }
      }
      if (t > 0) {
        gemm_packed_on_this_thread(false, b1 - b0, 1.0f, dhp + static_cast<long>(b0) * G, G, w_hh_packed, 1.0f,
                                   dh_next.row(b0), H);
      }
    });
    if (w_hh.requires_grad) {
      Matrix& dw = w_hh.grad_buffer();
      gemm(true, false, G, H, B, 1.0f, dHp.data(), G, tape->h0.data(), H, 1.0f, dw.data(), H);
      if (T > 1) gemm(true, false, G, H, (T - 1) * B, 1.0f, dHp.row(B), G, Y.data(), H, 1.0f, dw.data(), H);
    }
    accumulate_grad(*self.parents[2], dU.finish_with_column_sums());
    accumulate_grad(*self.parents[3], sum_rows(dHp));
  });
}

}  // namespace lmn
