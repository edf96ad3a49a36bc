#include "generate/stepper.hpp"

#include <algorithm>
#include <type_traits>

#include "base/parallel.hpp"
#include "base/simd.hpp"
#include "nn/gate_math.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

namespace {

constexpr int kLanes = simd::kVecWidth;

// Batch-1 products in "lane blocks": kLanes output rows side by side, one
// register per input column, so no horizontal sums are needed. A block
// holds Rows such registers per column (the gates of kLanes hidden units),
// column by column, and the loop reads it as one sequential stream.
// acc[r] = sum over k in [k0, k1) of x[k] * (register r of column k).
template <int Rows>
void lane_block_product(const float* block, const float* x, int k0, int k1, simd::vfloat* acc) {
  // Enough independent multiply-add chains to hide the FMA latency.
  constexpr int kChains = Rows >= 4 ? 2 : 8 / Rows;
  simd::vfloat part[kChains][Rows] = {};
  int k = k0;
  for (; k + kChains <= k1; k += kChains) {
    for (int c = 0; c < kChains; ++c) {
      const float xk = x[k + c];
      const float* column = block + static_cast<long>(k + c) * Rows * kLanes;
      for (int r = 0; r < Rows; ++r) part[c][r] += xk * simd::load(column + r * kLanes);
    }
  }
  for (; k < k1; ++k) {
    const float* column = block + static_cast<long>(k) * Rows * kLanes;
    for (int r = 0; r < Rows; ++r) part[0][r] += x[k] * simd::load(column + r * kLanes);
  }
  for (int r = 0; r < Rows; ++r) {
    acc[r] = part[0][r];
    for (int c = 1; c < kChains; ++c) acc[r] += part[c][r];
  }
}

// The same for a bfloat16 block (see paired_bfloat16); k0 and k1 are even.
template <int Rows>
void lane_block_product(const BFloat16* block, const float* x, int k0, int k1, simd::vfloat* acc) {
  constexpr int kPairs = Rows >= 4 ? 1 : 4 / Rows;  // column pairs per iteration: 2 * kPairs * Rows chains
  simd::vfloat part[2 * kPairs][Rows] = {};
  int k = k0;
  const auto add_pair = [&](int k, simd::vfloat* even, simd::vfloat* odd) {
    const BFloat16* pair = block + static_cast<long>(k) * Rows * kLanes;
    for (int r = 0; r < Rows; ++r) {
      simd::vfloat low, high;
      simd::load_pairs(pair + 2 * r * kLanes, low, high);
      even[r] += x[k] * low;
      odd[r] += x[k + 1] * high;
    }
  };
  for (; k + 2 * kPairs <= k1; k += 2 * kPairs)
    for (int p = 0; p < kPairs; ++p) add_pair(k + 2 * p, part[2 * p], part[2 * p + 1]);
  for (; k < k1; k += 2) add_pair(k, part[0], part[1]);
  for (int r = 0; r < Rows; ++r) {
    acc[r] = part[0][r];
    for (int c = 1; c < 2 * kPairs; ++c) acc[r] += part[c][r];
  }
}

// A bfloat16 copy of float32 lane blocks (`rows` registers per column, K
// columns, K even) that pairs up columns: for columns k, k + 1 and register
// r, kLanes 32-bit words, each with column k's weight in its low half and
// column k + 1's in its high half, so widening needs no shuffles.
AlignedBuffer<BFloat16> paired_bfloat16(const AlignedFloats& weights, int rows, int K) {
  AlignedBuffer<BFloat16> out(weights.size());
  const long column = static_cast<long>(rows) * kLanes;  // floats per column of a block
  for (std::size_t block = 0; block < weights.size(); block += K * column) {
    for (int k = 0; k < K; k += 2) {
      const float* even = weights.data() + block + k * column;
      BFloat16* dst = out.data() + block + k * column;
      for (long i = 0; i < column; ++i) {
        dst[2 * i] = to_bfloat16(even[i]);
        dst[2 * i + 1] = to_bfloat16(even[column + i]);
      }
    }
  }
  return out;
}

template <class W>
const W* weights_of(const AlignedFloats& f32, const AlignedBuffer<BFloat16>& bf16) {
  if constexpr (std::is_same_v<W, BFloat16>) {
    return bf16.data();
  } else {
    return f32.data();
  }
}

// Where weight (output row `unit` of gate g, column k) goes: lane block
// unit / kLanes of a matrix with `gates` registers per column and K columns.
inline long lane_block_index(int gates, int K, int g, int unit, int k) {
  const long block = unit / kLanes;
  return ((block * K + k) * gates + g) * kLanes + unit % kLanes;
}

}  // namespace

Stepper::Stepper(const SequenceModel& model, WeightPrecision precision)
    : cell_(model.config().cell), V_(model.config().vocab_size), H_(model.config().hidden_size), precision_(precision) {
  gates_ = cell_ == CellType::LSTM ? 4 : 3;
  G_ = gates_ * H_;
  const int H = H_;
  const int even_h = H + H % 2;  // bfloat16 blocks pair up columns
  blocks_ = (H + kLanes - 1) / kLanes;
  const std::string prefix = cell_name(cell_) + ".";
  for (int l = 0; l < model.config().num_layers; ++l) {
    const std::string k = std::to_string(l);
    const Matrix& w_ih = model.parameter(prefix + "weight_ih_l" + k)->value;
    const Matrix& w_hh = model.parameter(prefix + "weight_hh_l" + k)->value;
    const Matrix& b_ih = model.parameter(prefix + "bias_ih_l" + k)->value;
    const Matrix& b_hh = model.parameter(prefix + "bias_hh_l" + k)->value;
    Layer layer;
    layer.in_len = l == 0 ? 0 : even_h;  // upper layers read the hidden state below; the first, the table
    layer.row_len = layer.in_len + even_h;
    layer.rows = AlignedFloats(static_cast<std::size_t>(blocks_) * kLanes * gates_ * layer.row_len);
    for (int g = 0; g < gates_; ++g) {
      for (int u = 0; u < H; ++u) {
        for (int k = 0; k < H; ++k) {
          if (l > 0) layer.rows.data()[lane_block_index(gates_, layer.row_len, g, u, k)] = w_ih(g * H + u, k);
          layer.rows.data()[lane_block_index(gates_, layer.row_len, g, u, layer.in_len + k)] = w_hh(g * H + u, k);
        }
      }
    }
    layer.bias.assign(4 * blocks_ * kLanes, 0.0f);
    for (int j = 0; j < G_; ++j) layer.bias[j / H * blocks_ * kLanes + j % H] = b_ih[j] + b_hh[j];
    if (cell_ == CellType::GRU) {  // b_hn sits inside r * (...): keep it apart
      float* bias_n = layer.bias.data() + 2 * blocks_ * kLanes;
      for (int u = 0; u < H; ++u) bias_n[u] = b_ih[2 * H + u], bias_n[blocks_ * kLanes + u] = b_hh[2 * H + u];
    }
    if (precision_ == WeightPrecision::BFloat16) {
      layer.rows_bf16 = paired_bfloat16(layer.rows, gates_, layer.row_len);
      layer.rows = {};
    }
    layer.input[0] = AlignedFloats(layer.row_len);
    layer.input[1] = AlignedFloats(layer.row_len);
    if (cell_ == CellType::LSTM) layer.c.assign(H, 0.0f);
    weight_floats_ += static_cast<long>(G_) * layer.row_len;
    layers_.push_back(std::move(layer));
  }
  // One-hot inputs select rows of W_ih^T; an embedding maps through it first.
  const Matrix& w_ih0 = model.parameter(prefix + "weight_ih_l0")->value;
  input_table_ = model.config().embedding_dim > 0
                     ? matmul(model.parameter("embedding.weight")->value, w_ih0, false, true)
                     : transpose(w_ih0);
  const Matrix& fc_w = model.parameter("fc.weight")->value;
  out_blocks_ = (V_ + kLanes - 1) / kLanes;
  out_len_ = even_h;
  out_rows_ = AlignedFloats(static_cast<std::size_t>(out_blocks_) * kLanes * out_len_);
  for (int v = 0; v < V_; ++v)
    for (int k = 0; k < H; ++k) out_rows_.data()[lane_block_index(1, out_len_, 0, v, k)] = fc_w(v, k);
  if (precision_ == WeightPrecision::BFloat16) {
    out_rows_bf16_ = paired_bfloat16(out_rows_, 1, out_len_);
    out_rows_ = {};
  }
  out_input_ = AlignedFloats(out_len_);
  weight_floats_ += static_cast<long>(V_) * H;
  const Matrix& fc_b = model.parameter("fc.bias")->value;
  fc_b_ = AlignedFloats(out_blocks_ * kLanes);
  std::copy_n(fc_b.data(), V_, fc_b_.data());
  gates_buf_ = AlignedFloats(4 * blocks_ * kLanes);
  logits_ = AlignedFloats(out_blocks_ * kLanes);
  reset();
}

void Stepper::reset() {
  for (auto& layer : layers_) {
    for (auto& buffer : layer.input) std::fill_n(buffer.data(), layer.row_len, 0.0f);
    std::fill(layer.c.begin(), layer.c.end(), 0.0f);
  }
  parity_ = 0;
}

// Lane blocks [b0, b1) of layer l: their gate rows times [x | h], then the
// cell update of their units. Writes h where the next token (input[1 -
// parity]) and the layer above (or the output layer) read it.
template <class W>
void Stepper::layer_blocks(std::size_t l, const float* table_row, int b0, int b1) {
  Layer& layer = layers_[l];
  const W* weights = weights_of<W>(layer.rows, layer.rows_bf16);
  const int H = H_, stride = blocks_ * kLanes;  // gate g of unit u sits at g * stride + u
  const float* x = layer.input[parity_].data();
  float* dots = gates_buf_.data();
  for (int b = b0; b < b1; ++b) {
    const W* block = weights + static_cast<long>(b) * kLanes * gates_ * layer.row_len;
    float* out = dots + b * kLanes;
    simd::vfloat acc[4];
    if (cell_ == CellType::LSTM) {
      lane_block_product<4>(block, x, 0, layer.row_len, acc);
    } else {  // r and z take both parts; n keeps its input and hidden parts apart
      simd::vfloat hidden[3];
      lane_block_product<3>(block, x, 0, layer.in_len, acc);
      lane_block_product<3>(block, x, layer.in_len, layer.row_len, hidden);
      acc[0] += hidden[0], acc[1] += hidden[1], acc[3] = hidden[2];
    }
    for (int g = 0; g < 4; ++g) simd::store(out + g * stride, acc[g]);
  }
  const int u0 = b0 * kLanes, u1 = std::min(H, b1 * kLanes);
  if (table_row) {
    for (int g = 0; g < gates_; ++g)
      for (int u = u0; u < u1; ++u) dots[g * stride + u] += table_row[g * H + u];
  }
  const float* bias = layer.bias.data();
  const float* h_prev = x + layer.in_len;
  float* h_next = layer.input[1 - parity_].data() + layer.in_len;
  float* h_up = l + 1 < layers_.size() ? layers_[l + 1].input[parity_].data() : out_input_.data();
  // Gate slices: products (this thread's units filled in above) and biases.
  const float *p0 = dots, *p1 = dots + stride, *p2 = dots + 2 * stride, *p3 = dots + 3 * stride;
  const float *q0 = bias, *q1 = bias + stride, *q2 = bias + 2 * stride, *q3 = bias + 3 * stride;
  if (cell_ == CellType::LSTM) {
    float* c = layer.c.data();
#pragma omp simd
    for (int u = u0; u < u1; ++u) {
      const auto s =
          gates::lstm_cell<gates::FastMath>(p0[u] + q0[u], p1[u] + q1[u], p2[u] + q2[u], p3[u] + q3[u], c[u]);
      c[u] = s.c;
      h_next[u] = s.h, h_up[u] = s.h;
    }
  } else {
#pragma omp simd
    for (int u = u0; u < u1; ++u) {
      const float h =
          gates::gru_cell<gates::FastMath>(p0[u] + q0[u], p1[u] + q1[u], p2[u] + q2[u], p3[u] + q3[u], h_prev[u]).h;
      h_next[u] = h, h_up[u] = h;
    }
  }
}

// Output lane blocks [b0, b1): logits = fc.weight h + fc.bias.
template <class W>
void Stepper::output_blocks(int b0, int b1) {
  const W* weights = weights_of<W>(out_rows_, out_rows_bf16_);
  for (int b = b0; b < b1; ++b) {
    simd::vfloat acc[1];
    lane_block_product<1>(weights + static_cast<long>(b) * kLanes * out_len_, out_input_.data(), 0, out_len_, acc);
    simd::store(logits_.data() + b * kLanes, acc[0] + simd::load(fc_b_.data() + b * kLanes));
  }
}

const float* Stepper::step(int token) {
  if (token < 0 || token >= V_) {
    throw std::out_of_range("token " + std::to_string(token) + " is outside the vocabulary [0, " + std::to_string(V_) +
                            ")");
  }
  if (precision_ == WeightPrecision::BFloat16) {
    run<BFloat16>(input_table_.row(token));
  } else {
    run<float>(input_table_.row(token));
  }
  parity_ ^= 1;
  return logits_.data();
}

template <class W>
void Stepper::run(const float* table_row) {
  const int threads = weight_floats_ >= kParallelStepFloats ? active_threads() : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    int thread = 0, team = 1;
#ifdef _OPENMP
    thread = omp_get_thread_num();
    team = omp_get_num_threads();
#endif
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      layer_blocks<W>(l, l == 0 ? table_row : nullptr, blocks_ * thread / team, blocks_ * (thread + 1) / team);
#pragma omp barrier
    }
    output_blocks<W>(out_blocks_ * thread / team, out_blocks_ * (thread + 1) / team);
  }
}

}  // namespace lmn
