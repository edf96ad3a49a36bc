#include "generate/stepper.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "base/cpu_info.hpp"
#include "base/parallel.hpp"
#include "base/simd.hpp"
#include "generate/amx_products.hpp"
#include "generate/bf16_products.hpp"
#include "generate/int8_products.hpp"
#include "generate/lane_products.hpp"
#include "nn/gate_math.hpp"
#include "tensor/gemm.hpp"

namespace lmn {

namespace {

constexpr int kLanes = simd::kVecWidth;
// Output weights x rows from which a step's threads split the output layer
// (below, one thread computes it faster than two meet after it).
constexpr long kParallelOutputWeights = 1L << 16;
// Input columns of a block read per pass over the batch rows: 64 columns
// (float32) or pairs of columns (bfloat16) of 4 gates are 16 KB, so a chunk
// stays in L1 while every row reads it (bfloat16 in 8 KB chunks was up to
// 20% slower at 16 rows on Zen 4). A multiple of every chain count, so
// chunking keeps each row's sums.
constexpr int kChunkColumns = 64;
// Rows whose partial sums are kept at once; larger batches take turns.
constexpr int kRowGroup = 32;

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

// What the products of weights W read: float32 inputs, or for bfloat16
// weights the inputs rounded to bfloat16, a 32-bit word per pair of columns
// (bf16_products.hpp). An "input column" below is one of these.
template <class W>
using InputOf = std::conditional_t<std::is_same_v<W, BFloat16>, std::uint32_t, float>;
template <class W>
constexpr int kColumnsPerInput = std::is_same_v<W, BFloat16> ? 2 : 1;

// The inputs of N rows of `len` floats (`stride` apart) as the products of
// W read them, and the stride between rows: the floats themselves, or their
// rounded pairs in this thread's scratch (valid until its next call).
template <class W>
std::pair<const InputOf<W>*, int> product_inputs(const float* x, int stride, int len, int N) {
  if constexpr (std::is_same_v<W, BFloat16>) {
    thread_local std::vector<std::uint32_t> words;
    words.resize(static_cast<std::size_t>(N) * len / 2);
    for (int n = 0; n < N; ++n) bf16::round_pairs(x + static_cast<long>(n) * stride, len, words.data() + n * len / 2);
    return {words.data(), len / 2};
  } else {
    return {x, stride};
  }
}

// Columns [k, k1) of a block times the first inputs of x[0, count) into
// their sums; returns how many inputs it took (at least one).
template <int Rows>
int accumulate(const float* block, const float* const* x, int count, int k, int k1, lanes::Partials<Rows>* const* sums,
               lanes::Prefetch prefetch) {
  return lanes::at_most<lanes::kRowsAtOnce<Rows>>(
      count, [&]<int R>() { lanes::accumulate<Rows, R>(block, x, k, k1, sums, prefetch); });
}
template <int Rows>
int accumulate(const BFloat16* block, const std::uint32_t* const* x, int count, int k, int k1,
               lanes::Partials<Rows>* const* sums, lanes::Prefetch) {
  return bf16::accumulate<Rows>(block, x, count, k, k1, sums);
}

// For each of `rows` inputs (x + n * x_stride): out[n * Rows + r] = register
// r of the block's product over input columns [k0, k1). One row reads the
// block straight through; several read it chunk by chunk, each chunk once
// from memory and then from L1 (lane_products.hpp: the same sums either way).
// With `fetch_ahead` (float32 weights beyond L2: each chunk comes from L3)
// the passes over a chunk ask for the next chunk, each pass for its share
// of every column's lines: the stream then overlaps the multiply-adds.
// (Leaving the first pass out asked faster than L3 delivers where there are
// two passes: 8 samples ran 7% slower than with no prefetch; all in one
// burst per chunk lost too.) 16 samples on an Intel Xeon (family 6, model 167):
// large LSTM / GRU +15% / +19% on one thread, +19% / +16% on two; char
// LSTM / GRU +13% / +16% on one.
template <int Rows, class W>
void block_products(const W* block, const InputOf<W>* x, int x_stride, int rows, int k0, int k1, simd::vfloat* out,
                    bool fetch_ahead = false) {
  if constexpr (std::is_same_v<W, BFloat16>) {
    if (amx::enabled()) {  // every row at once (amx_products.hpp)
      amx::bf16_products(block, 0, 1, Rows, x, x_stride, rows, k0, k1, reinterpret_cast<float*>(out));
      return;
    }
  }
  if (rows == 1) {
    lanes::Partials<Rows> sums = {};
    lanes::Partials<Rows>* sums_ptr = &sums;
    accumulate<Rows>(block, &x, 1, k0, k1, &sums_ptr, {});
    lanes::total<Rows>(sums, out);
    return;
  }
  for (int n0 = 0; n0 < rows; n0 += kRowGroup) {
    const int group = std::min(kRowGroup, rows - n0);
    lanes::Partials<Rows> sums[kRowGroup];  // only the group's are zeroed (zeroing all was 3% of a step)
    const InputOf<W>* xs[kRowGroup];
    lanes::Partials<Rows>* sum_ptrs[kRowGroup];
    for (int n = 0; n < group; ++n) {
      sums[n] = {};
      xs[n] = x + static_cast<long>(n0 + n) * x_stride, sum_ptrs[n] = &sums[n];
    }
    // Float32 columns of whole cache lines (kLines each) can ask ahead.
    constexpr bool kCanAsk = std::is_same_v<W, float> && Rows * simd::kVecBytes % 64 == 0;
    constexpr int kLines = Rows * simd::kVecBytes / 64;
    constexpr long kNextChunk = static_cast<long>(kChunkColumns) * Rows * kLanes;
    const bool ask = kCanAsk && fetch_ahead;
    const int passes = (group + lanes::kRowsAtOnce<Rows> - 1) / lanes::kRowsAtOnce<Rows>;
    for (int c0 = k0; c0 < k1; c0 += kChunkColumns) {
      const int c1 = std::min(k1, c0 + kChunkColumns);
      for (int n = 0, pass = 0; n < group; ++pass) {
        lanes::Prefetch next;
        if (ask) next = {kNextChunk, pass * kLines / passes, (pass + 1) * kLines / passes};
        n += accumulate<Rows>(block, xs + n, group - n, c0, c1, sum_ptrs + n, next);
      }
    }
    for (int n = 0; n < group; ++n) lanes::total<Rows>(sums[n], out + (n0 + n) * Rows);
  }
}

// An int8 copy of a matrix with `gates` registers per column: output row
// (g, u) holds weight(g, u, k) for input columns k < in_cols at k and for
// hidden columns k < H at in_len + k, in lane blocks of column quads.
template <class Weight>
Int8Rows quantize(int gates, int units, int blocks, int in_cols, int H, Weight weight) {
  Int8Rows out;
  out.in_len = (in_cols + 3) / 4 * 4;
  out.row_len = out.in_len + (H + 3) / 4 * 4;
  const int stride = blocks * kLanes;
  out.weights = AlignedBuffer<std::int8_t>(static_cast<std::size_t>(blocks) * kLanes * gates * out.row_len);
  out.scale.assign(static_cast<std::size_t>(gates) * stride, 0.0f);
  out.offset_in.assign(out.scale.size(), 0);
  out.offset_h.assign(out.scale.size(), 0);
  for (int g = 0; g < gates; ++g) {
    for (int u = 0; u < units; ++u) {
      float largest = 0.0f;
      for (int k = 0; k < in_cols; ++k) largest = std::max(largest, std::abs(weight(g, u, k, false)));
      for (int k = 0; k < H; ++k) largest = std::max(largest, std::abs(weight(g, u, k, true)));
      const float scale = largest > 0.0f ? largest / 127.0f : 1.0f;
      const int row = g * stride + u;
      out.scale[row] = scale;
      const long block = static_cast<long>(u / kLanes) * gates * out.row_len * kLanes;
      const auto put = [&](int column, float w) {
        const auto q = static_cast<std::int8_t>(std::clamp(std::lrint(w / scale), -127L, 127L));
        // quad column / 4, register g, word u % kLanes, byte column % 4
        out.weights.data()[block + ((column / 4 * gates + g) * kLanes + u % kLanes) * 4 + column % 4] = q;
        return static_cast<std::int32_t>(q);
      };
      for (int k = 0; k < in_cols; ++k) out.offset_in[row] += int8::kInputOffset * put(k, weight(g, u, k, false));
      for (int k = 0; k < H; ++k) out.offset_h[row] += int8::kInputOffset * put(out.in_len + k, weight(g, u, k, true));
    }
  }
  return out;
}

// Row n's inputs [input | h] (float layout: hidden part at in_len) as bytes
// in the int8 layout (hidden part at q.in_len): round(x / scale) + 64 with
// scale = max |x| / 64 (int8_products.hpp); returns the scale.
float quantize_input(const float* x, int in_cols, int in_len, int H, const Int8Rows& q, std::uint8_t* out) {
  constexpr float kOffset = int8::kInputOffset;
  float largest = 0.0f;
#pragma omp simd reduction(max : largest)
  for (int k = 0; k < in_cols; ++k) largest = std::max(largest, std::abs(x[k]));
#pragma omp simd reduction(max : largest)
  for (int k = 0; k < H; ++k) largest = std::max(largest, std::abs(x[in_len + k]));
  const float scale = largest > 0.0f ? largest / kOffset : 1.0f, inverse = 1.0f / scale;
  std::fill_n(out, q.row_len, std::uint8_t{int8::kInputOffset});
  // x * inverse is in [-64, 64], so + 64.5 truncated is round-half-up + 64
  const auto byte = [inverse](float v) {
    return static_cast<std::uint8_t>(static_cast<int>(v * inverse + (kOffset + 0.5f)));
  };
  // (out_h read once: a byte store may alias q.in_len, which kept the loop scalar)
  std::uint8_t* out_h = out + q.in_len;
#pragma omp simd
  for (int k = 0; k < in_cols; ++k) out[k] = byte(x[k]);
#pragma omp simd
  for (int k = 0; k < H; ++k) out_h[k] = byte(x[in_len + k]);
  return scale;
}

}  // namespace

WeightPrecision parse_precision(const std::string& name) {
  if (name == "float32") return WeightPrecision::Float32;
  if (name == "bfloat16") return WeightPrecision::BFloat16;
  if (name == "int8") return WeightPrecision::Int8;
  throw std::invalid_argument("precision must be float32, bfloat16 or int8, got '" + name + "'");
}

StepperWeights::StepperWeights(const SequenceModel& model, WeightPrecision precision_)
    : cell(model.config().cell), V(model.config().vocab_size), H(model.config().hidden_size), precision(precision_) {
  gates = cell == CellType::LSTM ? 4 : 3;
  G = gates * H;
  const int even_h = H + H % 2;  // bfloat16 blocks pair up columns
  blocks = (H + kLanes - 1) / kLanes;
  for (int l = 0; l < model.config().num_layers; ++l) {
    const RecurrentLayer& source = model.layer(l);  // by index: a search by name per layer made this O(layers^2)
    const Matrix& w_ih = source.weight_ih->value;
    const Matrix& w_hh = source.weight_hh->value;
    const Matrix& b_ih = source.bias_ih->value;
    const Matrix& b_hh = source.bias_hh->value;
    Layer layer;
    layer.in_len = l == 0 ? 0 : even_h;  // upper layers read the hidden state below; the first, the table
    layer.row_len = layer.in_len + even_h;
    layer.rows = AlignedFloats(static_cast<std::size_t>(blocks) * kLanes * gates * layer.row_len);
    for (int g = 0; g < gates; ++g) {
      for (int u = 0; u < H; ++u) {
        for (int k = 0; k < H; ++k) {
          if (l > 0) layer.rows.data()[lane_block_index(gates, layer.row_len, g, u, k)] = w_ih(g * H + u, k);
          layer.rows.data()[lane_block_index(gates, layer.row_len, g, u, layer.in_len + k)] = w_hh(g * H + u, k);
        }
      }
    }
    layer.bias.assign(4 * blocks * kLanes, 0.0f);
    for (int j = 0; j < G; ++j) layer.bias[j / H * blocks * kLanes + j % H] = b_ih[j] + b_hh[j];
    if (cell == CellType::GRU) {  // b_hn sits inside r * (...): keep it apart
      float* bias_n = layer.bias.data() + 2 * blocks * kLanes;
      for (int u = 0; u < H; ++u) bias_n[u] = b_ih[2 * H + u], bias_n[blocks * kLanes + u] = b_hh[2 * H + u];
    }
    if (precision == WeightPrecision::BFloat16) {
      layer.rows_bf16 = paired_bfloat16(layer.rows, gates, layer.row_len);
      layer.rows = {};
    } else if (precision == WeightPrecision::Int8) {
      layer.rows_int8 = quantize(gates, H, blocks, l == 0 ? 0 : H, H, [&](int g, int u, int k, bool hidden) {
        return hidden ? w_hh(g * H + u, k) : w_ih(g * H + u, k);
      });
      layer.rows = {};
    }
    weight_count += static_cast<long>(G) * (l == 0 ? H : 2 * H);
    layers.push_back(std::move(layer));
  }
  // One-hot inputs select rows of W_ih^T; an embedding maps through it first.
  const Matrix& w_ih0 = model.layer(0).weight_ih->value;
  input_table = model.config().embedding_dim > 0
                    ? matmul(model.parameter("embedding.weight")->value, w_ih0, false, true)
                    : transpose(w_ih0);
  const Matrix& fc_w = model.parameter("fc.weight")->value;
  out_blocks = (V + kLanes - 1) / kLanes;
  out_len = even_h;
  out_rows = AlignedFloats(static_cast<std::size_t>(out_blocks) * kLanes * out_len);
  for (int v = 0; v < V; ++v)
    for (int k = 0; k < H; ++k) out_rows.data()[lane_block_index(1, out_len, 0, v, k)] = fc_w(v, k);
  if (precision == WeightPrecision::BFloat16) {
    out_rows_bf16 = paired_bfloat16(out_rows, 1, out_len);
    out_rows = {};
  } else if (precision == WeightPrecision::Int8) {
    out_rows_int8 = quantize(1, V, out_blocks, 0, H, [&](int, int v, int k, bool) { return fc_w(v, k); });
    out_rows = {};
  }
  weight_count += static_cast<long>(V) * H;
  weight_bytes = weight_count * (precision == WeightPrecision::Float32    ? 4
                                 : precision == WeightPrecision::BFloat16 ? 2
                                                                          : 1);
  const Matrix& fc_b_m = model.parameter("fc.bias")->value;
  fc_b = AlignedFloats(out_blocks * kLanes);
  std::copy_n(fc_b_m.data(), V, fc_b.data());
}

Stepper::Stepper(const SequenceModel& model, WeightPrecision precision)
    : Stepper(std::make_shared<const StepperWeights>(model, precision)) {}

Stepper::Stepper(std::shared_ptr<const StepperWeights> weights, int batch) : w_(std::move(weights)), batch_(batch) {
  if (batch_ < 1) throw std::invalid_argument("Stepper: batch must be >= 1, got " + std::to_string(batch_));
  for (const auto& layer : w_->layers) {
    LayerState state;
    for (auto& buffer : state.input) buffer = AlignedFloats(static_cast<std::size_t>(batch_) * layer.row_len);
    if (w_->cell == CellType::LSTM) state.c.assign(static_cast<std::size_t>(batch_) * w_->H, 0.0f);
    layers_.push_back(std::move(state));
  }
  gates_buf_ = AlignedFloats(static_cast<std::size_t>(batch_) * 4 * w_->blocks * kLanes);
  out_input_ = AlignedFloats(static_cast<std::size_t>(batch_) * w_->out_len);
  logits_ = AlignedFloats(static_cast<std::size_t>(batch_) * logits_stride());
  reset();
}

void Stepper::reset() {
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    for (auto& buffer : layers_[l].input) std::fill_n(buffer.data(), buffer.size(), 0.0f);
    std::fill(layers_[l].c.begin(), layers_[l].c.end(), 0.0f);
  }
  parity_ = 0;
}

void Stepper::take_row(int row, const Stepper& from, int from_row) {
  if (from.w_ != w_) throw std::invalid_argument("Stepper::take_row: the Steppers have different weights");
  if (row < 0 || row >= batch_ || from_row < 0 || from_row >= from.batch_) {
    throw std::out_of_range("Stepper::take_row: row " + std::to_string(row) + " of " + std::to_string(batch_) +
                            " from row " + std::to_string(from_row) + " of " + std::to_string(from.batch_));
  }
  const int H = w_->H;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    // The next token reads h in the h part of input[parity_]; the input
    // part is written by the layer below before it is read.
    const long row_len = w_->layers[l].row_len, in_len = w_->layers[l].in_len;
    std::copy_n(from.layers_[l].input[from.parity_].data() + from_row * row_len + in_len, H,
                layers_[l].input[parity_].data() + row * row_len + in_len);
    if (w_->cell == CellType::LSTM)
      std::copy_n(from.layers_[l].c.data() + static_cast<long>(from_row) * H, H,
                  layers_[l].c.data() + static_cast<long>(row) * H);
  }
}

// Lane blocks [b0, b1) of layer l: their gate rows times [x | h] for every
// row, into gates_buf_ (row n's gate g of unit u at n * 4 * stride + g *
// stride + u; GRU: r, z, then n's input and hidden parts apart).
template <class W>
void Stepper::layer_products(std::size_t l, int b0, int b1) {
  const StepperWeights& w = *w_;
  const StepperWeights::Layer& layer = w.layers[l];
  const W* weights = weights_of<W>(layer.rows, layer.rows_bf16);
  const int stride = w.blocks * kLanes, row_len = layer.row_len, gate_len = 4 * stride, N = batch_;
  // Each thread rounds every row's inputs itself (bfloat16), as for int8.
  const auto [x, x_stride] = product_inputs<W>(layers_[l].input[parity_].data(), row_len, row_len, N);
  const int in_end = layer.in_len / kColumnsPerInput<W>, end = row_len / kColumnsPerInput<W>;
  // This thread's share of the step's weights (as many blocks in every layer) beyond its L2.
  const bool fetch_ahead = w.weight_bytes / w.blocks * (b1 - b0) > l2_cache_bytes();
  // Per thread, kept between calls: allocating them per call was 2.6% of a
  // char LSTM bfloat16 step at one row (Zen 4).
  thread_local std::vector<simd::vfloat> acc, hidden;
  acc.resize(static_cast<std::size_t>(N) * 4);
  if (w.cell == CellType::GRU) hidden.resize(static_cast<std::size_t>(N) * 3);
  for (int b = b0; b < b1; ++b) {
    const W* block = weights + static_cast<long>(b) * kLanes * w.gates * row_len;
    if (w.cell == CellType::LSTM) {
      block_products<4>(block, x, x_stride, N, 0, end, acc.data(), fetch_ahead);
    } else {  // r and z take both parts; n keeps its input and hidden parts apart
      block_products<3>(block, x, x_stride, N, 0, in_end, acc.data(), fetch_ahead);
      block_products<3>(block, x, x_stride, N, in_end, end, hidden.data(), fetch_ahead);
    }
    for (int n = 0; n < N; ++n) {
      float* out = gates_buf_.data() + static_cast<long>(n) * gate_len + b * kLanes;
      if (w.cell == CellType::LSTM) {
        for (int g = 0; g < 4; ++g) simd::store(out + g * stride, acc[n * 4 + g]);
      } else {
        const simd::vfloat* a = &acc[n * 3];
        const simd::vfloat* h = &hidden[n * 3];
        simd::store(out, a[0] + h[0]);
        simd::store(out + stride, a[1] + h[1]);
        simd::store(out + 2 * stride, a[2]);
        simd::store(out + 3 * stride, h[2]);
      }
    }
  }
}

namespace {

// One thread's buffers for an int8 step: every row's inputs as bytes, their
// scales and starts, and the integer sums. Kept per thread and reused, so a
// step allocates nothing (malloc and free showed as ~3% of a melody-sized
// int8 step in perf).
struct Int8Scratch {
  std::vector<std::uint8_t> bytes;  // row n at n * row_len
  long row_len = 0;
  std::vector<float> scale;
  std::vector<const std::uint8_t*> rows;
  std::vector<std::int32_t> acc, hidden;
};

// Not inlined: GCC recomputed an inlined thread_local's address (a call to
// __tls_get_addr) after every call in the loops that use it.
__attribute__((noinline)) Int8Scratch& int8_scratch() {
  thread_local Int8Scratch scratch;
  return scratch;
}

// Rows n < N of x (x_stride floats apart; layout as in quantize_input) into
// s.bytes, s.scale and s.rows.
void quantize_rows(const float* x, int x_stride, int in_cols, int in_len, int H, const Int8Rows& q, int N,
                   Int8Scratch& s) {
  s.row_len = q.row_len;
  s.bytes.resize(static_cast<std::size_t>(N) * q.row_len);
  s.scale.resize(N);
  s.rows.resize(N);
  for (int n = 0; n < N; ++n) {
    s.rows[n] = s.bytes.data() + static_cast<long>(n) * q.row_len;
    s.scale[n] = quantize_input(x + static_cast<long>(n) * x_stride, in_cols, in_len, H, q,
                                s.bytes.data() + static_cast<long>(n) * q.row_len);
  }
}

// int8 products of `rows` registers per quad for the N rows of s over quads
// [j0, j1) of `blocks` lane blocks (`stride` bytes apart), stored in
// acc[((b * N + n) * rows + r) * kLanes + u]; several rows go chunk by chunk
// as in block_products, so each chunk is read once from memory.
void int8_block_products(const std::int8_t* first_block, long stride, int blocks, int rows, const Int8Scratch& s, int N,
                         int j0, int j1, std::int32_t* acc) {
  if (N >= amx::kMinInt8Inputs && amx::enabled()) {  // every row at once (amx_products.hpp)
    amx::int8_products(first_block, stride, blocks, rows, s.bytes.data(), s.row_len, N, j0, j1, acc);
    return;
  }
  // The vector kernels add to the sums.
  std::fill_n(acc, static_cast<long>(blocks) * N * rows * kLanes, 0);
  if (N == 1) {  // one row reads the blocks straight through
    int8::block_products(first_block, stride, blocks, rows, s.rows.data(), 1, j0, j1, acc);
    return;
  }
  constexpr int kChunkQuads = 64;  // of 4 gates: 16 KB
  for (int b = 0; b < blocks; ++b) {
    for (int c0 = j0; c0 < j1; c0 += kChunkQuads) {
      int8::block_products(first_block + b * stride, rows, s.rows.data(), N, c0, std::min(j1, c0 + kChunkQuads),
                           acc + static_cast<long>(b) * N * rows * kLanes);
    }
  }
}

// Lane blocks whose integer sums are computed before any are converted to
// floats: converting each block's sums right after its products made the
// next block's products wait (9% of a char LSTM step at one row, Zen 4).
inline int int8_blocks_per_group(int rows) { return std::max(1, 8 / rows); }

// One register of integer sums or offsets.
using Ints = std::int32_t __attribute__((vector_size(simd::kVecBytes)));
inline Ints load_ints(const std::int32_t* p) {
  Ints v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// One register of products from integer sums: (sums - offset) x (weight
// scales x the input scale). The loops below load a register's offset and
// scales once for every row (per row they were reloaded after each store,
// which may alias them).
inline simd::vfloat int8_products(const std::int32_t* sums, Ints offset, simd::vfloat scale) {
  return __builtin_convertvector(load_ints(sums) - offset, simd::vfloat) * scale;
}

}  // namespace

void Stepper::layer_products_int8(std::size_t l, int b0, int b1) {
  const StepperWeights& w = *w_;
  const StepperWeights::Layer& layer = w.layers[l];
  const Int8Rows& q = layer.rows_int8;
  const int stride = w.blocks * kLanes, gate_len = 4 * stride, N = batch_, G = w.gates;
  const float* x = layers_[l].input[parity_].data();
  // Each thread rounds every row's inputs itself (a few hundred bytes per
  // row) rather than waiting for one thread to do it.
  Int8Scratch& s = int8_scratch();
  quantize_rows(x, layer.row_len, l == 0 ? 0 : w.H, layer.in_len, w.H, q, N, s);
  const int quads_in = q.in_len / 4, quads = q.row_len / 4;
  const int group = int8_blocks_per_group(N), per_block = N * G * kLanes;
  s.acc.resize(static_cast<std::size_t>(group) * per_block);
  s.hidden.resize(s.acc.size());
  for (int g0 = b0; g0 < b1; g0 += group) {
    const int g1 = std::min(b1, g0 + group);
    const long block_bytes = static_cast<long>(kLanes) * G * q.row_len;
    const std::int8_t* first = q.weights.data() + g0 * block_bytes;
    // LSTM: one sum over all quads; GRU: the input and hidden parts apart.
    int8_block_products(first, block_bytes, g1 - g0, G, s, N, 0, w.cell == CellType::LSTM ? quads : quads_in,
                        s.acc.data());
    if (w.cell == CellType::GRU)
      int8_block_products(first, block_bytes, g1 - g0, G, s, N, quads_in, quads, s.hidden.data());
    for (int b = g0; b < g1; ++b) {
      for (int g = 0; g < G; ++g) {
        const int r0 = g * stride + b * kLanes;
        const simd::vfloat scale = simd::load(q.scale.data() + r0);
        const Ints offset_in = load_ints(q.offset_in.data() + r0), offset_h = load_ints(q.offset_h.data() + r0);
        const Ints offset = offset_in + offset_h;  // LSTM: one sum over both parts (exact in integers)
        for (int n = 0; n < N; ++n) {
          float* out = gates_buf_.data() + static_cast<long>(n) * gate_len + b * kLanes;
          const long at = (b - g0) * per_block + (static_cast<long>(n) * G + g) * kLanes;
          const simd::vfloat unit_scale = scale * s.scale[n];
          if (w.cell == CellType::LSTM) {
            simd::store(out + g * stride, int8_products(s.acc.data() + at, offset, unit_scale));
            continue;
          }
          // GRU: r and z add both parts; n keeps its input part in slice 2, its hidden part in slice 3
          const simd::vfloat in = int8_products(s.acc.data() + at, offset_in, unit_scale);
          const simd::vfloat hid = int8_products(s.hidden.data() + at, offset_h, unit_scale);
          if (g < 2) {
            simd::store(out + g * stride, in + hid);
          } else {
            simd::store(out + 2 * stride, in);
            simd::store(out + 3 * stride, hid);
          }
        }
      }
    }
  }
}

// Units of lane blocks [b0, b1) of layer l, every row: the first layer's
// input table row and the biases join the products, then the cell update.
// Writes h where the next token (input[1 - parity]) and the layer above (or
// the output layer) read it.
void Stepper::cell_update(std::size_t l, const int* tokens, int b0, int b1) {
  const StepperWeights& w = *w_;
  const StepperWeights::Layer& layer = w.layers[l];
  LayerState& state = layers_[l];
  const int H = w.H, stride = w.blocks * kLanes, row_len = layer.row_len, gate_len = 4 * stride;
  const int u0 = b0 * kLanes, u1 = std::min(H, b1 * kLanes);
  const float* bias = layer.bias.data();
  const float *q0 = bias, *q1 = bias + stride, *q2 = bias + 2 * stride, *q3 = bias + 3 * stride;
  const float* x = state.input[parity_].data();
  for (int n = 0; n < batch_; ++n) {
    float* dots = gates_buf_.data() + static_cast<long>(n) * gate_len;
    if (l == 0) {
      const float* table_row = w.input_table.row(tokens[n]);
      for (int g = 0; g < w.gates; ++g)
        for (int u = u0; u < u1; ++u) dots[g * stride + u] += table_row[g * H + u];
    }
    const float* h_prev = x + static_cast<long>(n) * row_len + layer.in_len;
    float* h_next = state.input[1 - parity_].data() + static_cast<long>(n) * row_len + layer.in_len;
    float* h_up = l + 1 < layers_.size()
                      ? layers_[l + 1].input[parity_].data() + static_cast<long>(n) * w.layers[l + 1].row_len
                      : out_input_.data() + static_cast<long>(n) * w.out_len;
    // Gate slices: products (this thread's units filled in above) plus
    // biases, turned into activations a slice at a time (gate_math.hpp).
    float *a0 = dots, *a1 = dots + stride, *a2 = dots + 2 * stride, *a3 = dots + 3 * stride;
    const auto plus = [](const float* a, const float* bias_slice) {
      return [a, bias_slice](int u) { return a[u] + bias_slice[u]; };
    };
    if (w.cell == CellType::LSTM) {
      gates::sigmoid_slice(a0, u0, u1, plus(a0, q0));
      gates::sigmoid_slice(a1, u0, u1, plus(a1, q1));
      gates::tanh_slice(a2, u0, u1, plus(a2, q2));
      gates::sigmoid_slice(a3, u0, u1, plus(a3, q3));
      float* c = state.c.data() + static_cast<long>(n) * H;
#pragma omp simd
      for (int u = u0; u < u1; ++u) {
        gates::LSTMCell<float> s;
        s.i = a0[u], s.f = a1[u], s.g = a2[u], s.o = a3[u];
        gates::lstm_state<gates::FastMath>(s, c[u]);
        c[u] = s.c;
        h_next[u] = s.h, h_up[u] = s.h;
      }
    } else {
      gates::sigmoid_slice(a0, u0, u1, plus(a0, q0));
      gates::sigmoid_slice(a1, u0, u1, plus(a1, q1));
#pragma omp simd
      for (int u = u0; u < u1; ++u) {
        gates::GRUCell<float> s;
        s.r = a0[u], s.z = a1[u];
        gates::gru_state<gates::FastMath>(s, a2[u] + q2[u], a3[u] + q3[u], h_prev[u]);
        h_next[u] = s.h, h_up[u] = s.h;
      }
    }
  }
}

// Output lane blocks [b0, b1): logits = fc.weight h + fc.bias, every row.
template <class W>
void Stepper::output_blocks(int b0, int b1) {
  const StepperWeights& w = *w_;
  const W* weights = weights_of<W>(w.out_rows, w.out_rows_bf16);
  const auto [x, x_stride] = product_inputs<W>(out_input_.data(), w.out_len, w.out_len, batch_);
  thread_local std::vector<simd::vfloat> acc;  // as in layer_products: block b's row n at (b - b0) * batch_ + n
  acc.resize(static_cast<std::size_t>(b1 - b0) * batch_);
  const long block_len = static_cast<long>(kLanes) * w.out_len;
  // Every block's sums into acc, on tiles or vector by vector.
  const auto products = [&] {
    if constexpr (std::is_same_v<W, BFloat16>) {
      if (amx::enabled()) {  // all the blocks in one call: a block's one sum tile alone waits on each product
        amx::bf16_products(weights + b0 * block_len, block_len, b1 - b0, 1, x, x_stride, batch_, 0, w.out_len / 2,
                           reinterpret_cast<float*>(acc.data()));
        return;
      }
    }
    for (int b = b0; b < b1; ++b)
      block_products<1>(weights + b * block_len, x, x_stride, batch_, 0, w.out_len / kColumnsPerInput<W>,
                        acc.data() + static_cast<long>(b - b0) * batch_);
  };
  products();
  for (int b = b0; b < b1; ++b) {
    const simd::vfloat bias = simd::load(w.fc_b.data() + b * kLanes);
    for (int n = 0; n < batch_; ++n)
      simd::store(logits_.data() + static_cast<long>(n) * logits_stride() + b * kLanes,
                  acc[static_cast<long>(b - b0) * batch_ + n] + bias);
  }
}

void Stepper::output_blocks_int8(int b0, int b1) {
  const StepperWeights& w = *w_;
  const Int8Rows& q = w.out_rows_int8;
  const int N = batch_;
  Int8Scratch& s = int8_scratch();
  quantize_rows(out_input_.data(), w.out_len, 0, 0, w.H, q, N, s);
  const int group = int8_blocks_per_group(N), per_block = N * kLanes;
  const long block_bytes = static_cast<long>(kLanes) * q.row_len;
  std::vector<std::int32_t>& acc = s.acc;
  acc.resize(static_cast<std::size_t>(group) * per_block);
  for (int g0 = b0; g0 < b1; g0 += group) {
    const int g1 = std::min(b1, g0 + group);
    int8_block_products(q.weights.data() + g0 * block_bytes, block_bytes, g1 - g0, 1, s, N, 0, q.row_len / 4,
                        acc.data());
    for (int b = g0; b < g1; ++b) {
      const long v = b * kLanes;
      const simd::vfloat scale = simd::load(q.scale.data() + v), bias = simd::load(w.fc_b.data() + v);
      const Ints offset = load_ints(q.offset_h.data() + v);
      for (int n = 0; n < N; ++n) {
        const simd::vfloat logits =
            int8_products(acc.data() + (b - g0) * per_block + n * kLanes, offset, scale * s.scale[n]);
        simd::store(logits_.data() + static_cast<long>(n) * logits_stride() + v, logits + bias);
      }
    }
  }
}

const float* Stepper::step(const int* tokens) {
  for (int n = 0; n < batch_; ++n) {
    if (tokens[n] < 0 || tokens[n] >= w_->V) {
      throw std::out_of_range("token " + std::to_string(tokens[n]) + " is outside the vocabulary [0, " +
                              std::to_string(w_->V) + ")");
    }
  }
  run_team(step_threads(), [&](const Team& team) { step(tokens, team); });
  return logits_.data();
}

const float* Stepper::step(const int* tokens, const Team& team) {
  switch (w_->precision) {
    case WeightPrecision::BFloat16: run<BFloat16>(tokens, team); break;
    case WeightPrecision::Int8: run<std::int8_t>(tokens, team); break;
    default: run<float>(tokens, team);
  }
  return logits_.data();
}

int Stepper::step_threads() const {
  // A second thread pays off once a step has enough work: weights times rows.
  return w_->weight_count * batch_ >= kParallelStepFloats ? active_threads() : 1;
}

// W: float, BFloat16 or std::int8_t (the int8 products). The team splits
// every layer's lane blocks and meets once per layer and at the end.
template <class W>
void Stepper::run(const int* tokens, const Team& team) {
  const int blocks = w_->blocks, out_blocks = w_->out_blocks;
  const int thread = team.thread, size = team.size;
  // The first layer's cell update adds each row's input table row (G floats,
  // a random one per token): fetch them while the products run, not after.
  if (thread == 0) {
    for (int n = 0; n < batch_; ++n) {
      const char* table_row = reinterpret_cast<const char*>(w_->input_table.row(tokens[n]));
      for (long byte = 0; byte < static_cast<long>(w_->G) * 4; byte += 64) __builtin_prefetch(table_row + byte);
    }
  }
  const int b0 = blocks * thread / size, b1 = blocks * (thread + 1) / size;
  const amx::TileScope tiles;  // configured once per step, not per product (amx_products.hpp)
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    if constexpr (std::is_same_v<W, std::int8_t>) {
      layer_products_int8(l, b0, b1);
    } else {
      layer_products<W>(l, b0, b1);
    }
    cell_update(l, tokens, b0, b1);
    team.barrier();
  }
  // Every layer has read this token's inputs (the output blocks read
  // out_input_): the next token reads the other buffers.
  if (thread == 0) parity_ ^= 1;
  // A small output layer (a vocabulary of a few dozen tokens) takes less
  // time on one thread than the meeting that a split needs: thread 0 runs
  // it alone and the others return at once.
  const bool split = static_cast<long>(out_blocks) * kLanes * w_->out_len * batch_ >= kParallelOutputWeights;
  const int o0 = split ? out_blocks * thread / size : (thread == 0 ? 0 : out_blocks);
  const int o1 = split ? out_blocks * (thread + 1) / size : out_blocks;
  if constexpr (std::is_same_v<W, std::int8_t>) {
    if (o0 < o1) output_blocks_int8(o0, o1);
  } else {
    if (o0 < o1) output_blocks<W>(o0, o1);
  }
  if (split) team.barrier();  // the logits are complete
}

}  // namespace lmn
