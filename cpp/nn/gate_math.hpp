#pragma once
// The LSTM and GRU cell equations (torch.nn's), written once for the three
// paths that compute them: the reference layers (autodiff ops on Vars), the
// fused sequence kernels and the batch-1 stepper (floats in SIMD loops). A
// Math policy says how sigmoid, tanh, +, - and * are evaluated:
//   GraphMath  Vars; every step builds graph nodes (reference, libm)
//   FastMath   floats; inline, vectorisable fast::sigmoid/tanh (fast paths)
// The backward of one cell, for the fused kernels, sits beside its forward.
#include "base/fast_math.hpp"
#include "ops/ops.hpp"

namespace lmn::gates {

struct GraphMath {
  static Var sigmoid(const Var& x) { return lmn::sigmoid(x); }
  static Var tanh(const Var& x) { return lmn::tanh(x); }
  static Var add(const Var& a, const Var& b) { return lmn::add(a, b); }
  static Var sub(const Var& a, const Var& b) { return lmn::subtract(a, b); }
  static Var mul(const Var& a, const Var& b) { return lmn::multiply(a, b); }
};

struct FastMath {
  [[gnu::always_inline]] static float sigmoid(float x) { return fast::sigmoid(x); }
  [[gnu::always_inline]] static float tanh(float x) { return fast::tanh(x); }
  [[gnu::always_inline]] static float add(float a, float b) { return a + b; }
  [[gnu::always_inline]] static float sub(float a, float b) { return a - b; }
  [[gnu::always_inline]] static float mul(float a, float b) { return a * b; }
};

// out[j] = sigmoid / tanh of pre(j) for j in [begin, end): one gate slice of
// the fast paths, in a loop of its own. A loop over whole cells runs a chain
// of dependent exp's per register of units (LSTM: a gate, then tanh(c), ~160
// cycles) with too few registers in flight to hide it; slice loops first,
// then lstm_state / gru_state, keep several independent ones in flight.
template <class Pre>
inline void sigmoid_slice(float* out, int begin, int end, Pre pre) {
#pragma omp simd
  for (int j = begin; j < end; ++j) out[j] = fast::sigmoid(pre(j));
}
template <class Pre>
inline void tanh_slice(float* out, int begin, int end, Pre pre) {
#pragma omp simd
  for (int j = begin; j < end; ++j) out[j] = fast::tanh(pre(j));
}

// ---- LSTM (gate order i, f, g, o) --------------------------------------------

template <class T>
struct LSTMCell {
  T i, f, g, o;  // gate activations
  T c, tanh_c, h;
};

// From the gate pre-activations (x W_*^T + b_i* + h W_h*^T + b_h*) and c_{t-1}:
//   i, f, o = sigmoid(pre),  g = tanh(pre),  c = f * c_prev + i * g,  h = o * tanh(c)
// The second half apart (after sigmoid_slice / tanh_slice passes): c,
// tanh(c) and h into s from s.i, s.f, s.g, s.o.
template <class M, class T>
[[gnu::always_inline]] inline void lstm_state(LSTMCell<T>& s, const T& c_prev) {
  s.c = M::add(M::mul(s.f, c_prev), M::mul(s.i, s.g));
  s.tanh_c = M::tanh(s.c);
  s.h = M::mul(s.o, s.tanh_c);
}

template <class M, class T>
[[gnu::always_inline]] inline LSTMCell<T> lstm_cell(const T& pre_i, const T& pre_f, const T& pre_g, const T& pre_o,
                                                    const T& c_prev) {
  LSTMCell<T> s;
  s.i = M::sigmoid(pre_i), s.f = M::sigmoid(pre_f), s.g = M::tanh(pre_g), s.o = M::sigmoid(pre_o);
  lstm_state<M>(s, c_prev);
  return s;
}

struct LSTMCellGrad {
  float i, f, g, o;  // of the pre-activations
  float c_prev;
};

// dh, dc: what reaches h_t and c_t from above and from step t + 1.
[[gnu::always_inline]] inline LSTMCellGrad lstm_cell_backward(float i, float f, float g, float o, float tanh_c,
                                                              float c_prev, float dh, float dc) {
  dc += dh * o * (1.0f - tanh_c * tanh_c);
  return {dc * g * i * (1.0f - i), dc * c_prev * f * (1.0f - f), dc * i * (1.0f - g * g), dh * tanh_c * o * (1.0f - o),
          dc * f};
}

// ---- GRU (gate order r, z, n) ------------------------------------------------

template <class T>
struct GRUCell {
  T r, z, n, h;
};

// pre_r, pre_z: whole pre-activations; x_n = x W_in^T + b_in and
// h_n = h W_hn^T + b_hn stay apart because r multiplies only h_n:
//   n = tanh(x_n + r * h_n),  h = n + z * (h_prev - n)  ( = (1 - z) * n + z * h_prev )
// The part after r and z (as lstm_state): n and h into s from s.r, s.z.
template <class M, class T>
[[gnu::always_inline]] inline void gru_state(GRUCell<T>& s, const T& x_n, const T& h_n, const T& h_prev) {
  s.n = M::tanh(M::add(x_n, M::mul(s.r, h_n)));
  s.h = M::add(s.n, M::mul(s.z, M::sub(h_prev, s.n)));
}

template <class M, class T>
[[gnu::always_inline]] inline GRUCell<T> gru_cell(const T& pre_r, const T& pre_z, const T& x_n, const T& h_n,
                                                  const T& h_prev) {
  GRUCell<T> s;
  s.r = M::sigmoid(pre_r), s.z = M::sigmoid(pre_z);
  gru_state<M>(s, x_n, h_n, h_prev);
  return s;
}

struct GRUCellGrad {
  float r, z, n;  // of the pre-activations (n: of x_n + r * h_n; h_n's is n * r)
  float h_prev;   // the direct path z * dh; the recurrent GEMM adds the rest
};

[[gnu::always_inline]] inline GRUCellGrad gru_cell_backward(float r, float z, float n, float h_n, float h_prev,
                                                            float dh) {
  const float dn = dh * (1.0f - z) * (1.0f - n * n);
  return {dn * h_n * r * (1.0f - r), dh * (h_prev - n) * z * (1.0f - z), dn, dh * z};
}

}  // namespace lmn::gates
