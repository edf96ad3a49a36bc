#include "stepper.hpp"

#include <cstring>

#include "fast_math.hpp"
#include "matmul.hpp"

namespace lmn {

namespace {
constexpr std::size_t kCacheResidentBytes = 256 << 10;
}  // namespace

VectorProduct::VectorProduct(const Matrix& w)
    : weights_(w.size() * sizeof(float) <= kCacheResidentBytes ? transpose(w) : w),
      transposed_(w.size() * sizeof(float) <= kCacheResidentBytes) {}

void VectorProduct::add_to(const float* x, float* y) const {
  const Matrix& w = weights_;
  if (transposed_) {  // y (1, N) += x (1, K) W^T (K, N)
    gemm(false, false, 1, w.cols(), w.rows(), 1.0f, x, w.rows(), w.data(), w.cols(), 1.0f, y, w.cols());
  } else {  // y (1, N) += x (1, K) (W (N, K))^T
    gemm(false, true, 1, w.rows(), w.cols(), 1.0f, x, w.cols(), w.data(), w.cols(), 1.0f, y, w.rows());
  }
}

Stepper::Stepper(const SequenceModel& model)
    : cell_(model.config().cell), V_(model.config().vocab_size), H_(model.config().hidden_size) {
  const std::string prefix = cell_name(cell_) + ".";
  G_ = model.parameter(prefix + "weight_ih_l0")->value.rows();
  for (int l = 0; l < model.config().num_layers; ++l) {
    const std::string k = std::to_string(l);
    Layer layer;
    if (l > 0) layer.w_ih = VectorProduct(model.parameter(prefix + "weight_ih_l" + k)->value);
    layer.w_hh = VectorProduct(model.parameter(prefix + "weight_hh_l" + k)->value);
    layer.b_ih = model.parameter(prefix + "bias_ih_l" + k)->value;
    layer.b_hh = model.parameter(prefix + "bias_hh_l" + k)->value;
    layers_.push_back(std::move(layer));
  }
  // One-hot inputs select rows of W_ih^T; an embedding maps through it first.
  const Matrix& w_ih0 = model.parameter(prefix + "weight_ih_l0")->value;
  input_table_ = model.config().embedding_dim > 0
                     ? matmul(model.parameter("embedding.weight")->value, w_ih0, false, true)
                     : transpose(w_ih0);
  fc_w_ = VectorProduct(model.parameter("fc.weight")->value);
  fc_b_ = model.parameter("fc.bias")->value;
  projected_.reset(1, G_);
  hidden_.reset(1, G_);
  logits_.reset(1, V_);
  reset();
}

void Stepper::reset() {
  for (auto& layer : layers_) {
    layer.h.reset(1, H_);
    if (cell_ == CellType::LSTM) layer.c.reset(1, H_);
  }
}

void Stepper::lstm_step(Layer& layer, const float* projected) {
  float* g = hidden_.data();  // gate pre-activations i, f, g, o
  for (int j = 0; j < G_; ++j) g[j] = projected[j] + layer.b_ih[j] + layer.b_hh[j];
  layer.w_hh.add_to(layer.h.data(), g);
  float* h = layer.h.data();
  float* c = layer.c.data();
  const int H = H_;
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    const float i = fast::sigmoid(g[j]), f = fast::sigmoid(g[H + j]);
    const float cand = fast::tanh(g[2 * H + j]), o = fast::sigmoid(g[3 * H + j]);
    c[j] = f * c[j] + i * cand;
    h[j] = o * fast::tanh(c[j]);
  }
}

void Stepper::gru_step(Layer& layer, const float* projected) {
  float* hp = hidden_.data();  // h W_hh^T + b_hh
  std::memcpy(hp, layer.b_hh.data(), G_ * sizeof(float));
  layer.w_hh.add_to(layer.h.data(), hp);
  float* h = layer.h.data();
  const float* b = layer.b_ih.data();
  const int H = H_;
#pragma omp simd
  for (int j = 0; j < H; ++j) {
    const float r = fast::sigmoid(projected[j] + b[j] + hp[j]);
    const float z = fast::sigmoid(projected[H + j] + b[H + j] + hp[H + j]);
    const float n = fast::tanh(projected[2 * H + j] + b[2 * H + j] + r * hp[2 * H + j]);
    h[j] = (1.0f - z) * n + z * h[j];
  }
}

const float* Stepper::step(int token) {
  if (token < 0 || token >= V_) {
    throw std::out_of_range("token " + std::to_string(token) + " is outside the vocabulary [0, " +
                            std::to_string(V_) + ")");
  }
  const float* projected = input_table_.row(token);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    if (l > 0) {
      projected_.fill(0.0f);
      layer.w_ih.add_to(layers_[l - 1].h.data(), projected_.data());
      projected = projected_.data();
    }
    if (cell_ == CellType::LSTM) {
      lstm_step(layer, projected);
    } else {
      gru_step(layer, projected);
    }
  }
  std::memcpy(logits_.data(), fc_b_.data(), V_ * sizeof(float));
  fc_w_.add_to(layers_.back().h.data(), logits_.data());
  return logits_.data();
}

}  // namespace lmn
