#include "io/checkpoint.hpp"

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <type_traits>

#include <unistd.h>

namespace lmn {

static_assert(std::endian::native == std::endian::little, "checkpoints are written little-endian");

namespace {

constexpr char kMagic[8] = {'L', 'M', 'N', 'C', 'K', 'P', 'T', '1'};

std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

class Writer {
 public:
  template <typename T>
  void put(T v) {
    out_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    out_ += s;
  }
  void put_matrix(const Matrix& m) {
    put(static_cast<std::int32_t>(m.rows()));
    put(static_cast<std::int32_t>(m.cols()));
    out_.append(reinterpret_cast<const char*>(m.data()), m.size() * sizeof(float));
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(const std::string& bytes, std::string path) : bytes_(bytes), path_(std::move(path)) {}
  template <typename T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string get_string(const char* what) {
    const auto n = get<std::uint32_t>(what);
    need(n, what);
    std::string s = bytes_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  Matrix get_matrix(const std::string& what) {
    const auto rows = get<std::int32_t>(what.c_str());
    const auto cols = get<std::int32_t>(what.c_str());
    if (rows < 0 || cols < 0) fail("negative shape for " + what);
    const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
    need(n * sizeof(float), what.c_str());
    std::vector<float> values(n);
    std::memcpy(values.data(), bytes_.data() + pos_, n * sizeof(float));
    pos_ += n * sizeof(float);
    return Matrix(rows, cols, std::move(values));
  }
  // Guards counts read from the file against absurd allocations.
  std::uint32_t get_count(const char* what, std::size_t min_bytes_each) {
    const auto n = get<std::uint32_t>(what);
    if (static_cast<std::size_t>(n) * min_bytes_each > bytes_.size() - pos_) fail(std::string("impossible ") + what);
    return n;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw CheckpointFormatError("checkpoint '" + path_ + "' is damaged: " + why + " (at byte " + std::to_string(pos_) +
                                ")");
  }

 private:
  void need(std::size_t n, const char* what) const {
    if (n > bytes_.size() - pos_) {
      throw CheckpointFormatError("checkpoint '" + path_ + "' is truncated: ends at byte " +
                                  std::to_string(bytes_.size()) + " while reading " + what);
    }
  }
  const std::string& bytes_;
  std::string path_;
  std::size_t pos_ = 0;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open checkpoint '" + path + "': " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_atomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw IoError("cannot write checkpoint '" + path + "': " + std::strerror(errno));
  const bool written = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  const int saved_errno = errno;
  std::fclose(f);
  if (!written || !flushed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = written && flushed ? errno : saved_errno;
    std::remove(tmp.c_str());
    throw IoError("cannot write checkpoint '" + path + "': " + std::strerror(err));
  }
}

// The config block: the token model's, and the regressor's in the same
// bytes (cell code 2 + cell, output_size where vocab_size is, input_size
// where embedding_dim is), so everything after it is shared.
constexpr std::uint32_t kRegressorCellBase = 2;

void put_config(Writer& w, const ModelConfig& c) {
  w.put(static_cast<std::uint32_t>(c.cell));
  w.put(static_cast<std::int32_t>(c.vocab_size));
  w.put(static_cast<std::int32_t>(c.hidden_size));
  w.put(static_cast<std::int32_t>(c.num_layers));
  w.put(static_cast<std::int32_t>(c.embedding_dim));
  w.put(c.dropout);
}

void put_config(Writer& w, const RegressorConfig& c) {
  w.put(kRegressorCellBase + static_cast<std::uint32_t>(c.cell));
  w.put(static_cast<std::int32_t>(c.output_size));
  w.put(static_cast<std::int32_t>(c.hidden_size));
  w.put(static_cast<std::int32_t>(c.num_layers));
  w.put(static_cast<std::int32_t>(c.input_size));
  w.put(c.dropout);
}

// Reads the config block of the kind of model `Config` describes.
template <class Config>
Config get_config(Reader& r, const std::string& path) {
  const auto cell = r.get<std::uint32_t>("cell");
  constexpr bool regressor = std::is_same_v<Config, RegressorConfig>;
  const std::uint32_t base = regressor ? kRegressorCellBase : 0;
  if (cell != base && cell != base + 1) {
    if (!regressor && (cell == kRegressorCellBase || cell == kRegressorCellBase + 1)) {
      throw CheckpointFormatError("checkpoint '" + path +
                                  "' holds a sequence regressor; load it with LSTMRegressor.load or GRURegressor.load");
    }
    if (regressor && cell <= 1) {
      throw CheckpointFormatError("checkpoint '" + path +
                                  "' holds a token model, not a sequence regressor; load it with lstmininet.load");
    }
    r.fail("unknown cell type " + std::to_string(cell));
  }
  Config c;
  c.cell = static_cast<CellType>(cell - base);
  const auto first = r.get<std::int32_t>(regressor ? "output_size" : "vocab_size");
  c.hidden_size = r.get<std::int32_t>("hidden_size");
  c.num_layers = r.get<std::int32_t>("num_layers");
  const auto last = r.get<std::int32_t>(regressor ? "input_size" : "embedding_dim");
  if constexpr (regressor) {
    c.output_size = first, c.input_size = last;
  } else {
    c.vocab_size = first, c.embedding_dim = last;
  }
  c.dropout = r.get<float>("dropout");
  try {
    validate_config(c);
  } catch (const std::invalid_argument& e) {
    r.fail(std::string("bad config: ") + e.what());
  }
  return c;
}

template <class Net>
void save_any(const std::string& path, const Net& model, const TrainingState& training,
              const CheckpointExtras& extras) {
  Writer w;
  w.bytes().append(kMagic, sizeof kMagic);
  w.put(kCheckpointVersion);
  put_config(w, model.config());
  w.put(static_cast<std::uint32_t>(extras.vocabulary.size()));
  for (const auto& token : extras.vocabulary) w.put_string(token);
  w.put_string(extras.metadata);
  w.put(static_cast<std::uint32_t>(model.named_parameters().size()));
  for (const auto& [name, var] : model.named_parameters()) {
    w.put_string(name);
    w.put_matrix(var->value);
  }
  w.put(static_cast<std::int32_t>(training.epochs_done));
  w.put(training.seed);
  w.put(static_cast<std::uint8_t>(training.optimizer.has_value()));
  if (training.optimizer) {
    const OptimizerConfig& o = training.optimizer->config();
    w.put(static_cast<std::uint32_t>(o.kind));
    for (float v : {o.lr, o.momentum, o.weight_decay, o.beta1, o.beta2, o.eps, 0.0f}) w.put(v);
    w.put(static_cast<std::int64_t>(training.optimizer->steps()));
    w.put(static_cast<std::uint32_t>(training.optimizer->buffers().size()));
    for (const auto& m : training.optimizer->buffers()) w.put_matrix(m);
  }
  w.put(fnv1a(w.bytes()));
  write_atomically(path, w.bytes());
}

template <class Net, class Config>
LoadedCheckpointOf<Net> load_any(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw CheckpointFormatError("'" + path + "' is not an LSTMiniNet checkpoint (wrong magic bytes)");
  }
  if (bytes.size() < sizeof kMagic + 4 + 8) {
    throw CheckpointFormatError("checkpoint '" + path + "' is truncated: only " + std::to_string(bytes.size()) +
                                " bytes");
  }
  Reader r(bytes, path);
  r.get<std::uint64_t>("magic");
  const auto version = r.get<std::uint32_t>("version");
  if (version != kCheckpointVersion) {
    throw CheckpointFormatError("checkpoint '" + path + "' has version " + std::to_string(version) +
                                "; this build reads version " + std::to_string(kCheckpointVersion));
  }
  std::uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  if (stored != fnv1a(bytes.substr(0, bytes.size() - 8))) {
    throw CheckpointFormatError("checkpoint '" + path + "' is damaged or truncated (checksum mismatch)");
  }

  const Config c = get_config<Config>(r, path);
  LoadedCheckpointOf<Net> out;
  const auto vocab_count = r.get_count("vocabulary size", 4);
  for (std::uint32_t i = 0; i < vocab_count; ++i) out.extras.vocabulary.push_back(r.get_string("vocabulary"));
  out.extras.metadata = r.get_string("metadata");

  out.model = std::make_unique<Net>(c, 0);
  const auto tensors = r.get_count("tensor count", 12);
  if (tensors != out.model->named_parameters().size()) {
    r.fail(std::to_string(tensors) + " tensors where the config needs " +
           std::to_string(out.model->named_parameters().size()));
  }
  for (std::uint32_t i = 0; i < tensors; ++i) {
    const std::string name = r.get_string("tensor name");
    Matrix value = r.get_matrix(name);
    Var param;
    try {
      param = out.model->parameter(name);
    } catch (const std::invalid_argument&) {
      r.fail("unexpected tensor '" + name + "'");
    }
    if (!param->value.same_shape(value)) {
      r.fail("tensor '" + name + "' has shape " + value.shape_str() + ", expected " + param->value.shape_str());
    }
    param->value = std::move(value);
  }
  out.training.epochs_done = r.get<std::int32_t>("epochs_done");
  out.training.seed = r.get<std::uint64_t>("seed");
  if (r.get<std::uint8_t>("optimizer flag")) {
    OptimizerConfig o;
    const auto kind = r.get<std::uint32_t>("optimizer kind");
    if (kind > 2) r.fail("unknown optimizer kind " + std::to_string(kind));
    o.kind = static_cast<OptimizerKind>(kind);
    o.lr = r.get<float>("lr");
    o.momentum = r.get<float>("momentum");
    o.weight_decay = r.get<float>("weight_decay");
    o.beta1 = r.get<float>("beta1");
    o.beta2 = r.get<float>("beta2");
    o.eps = r.get<float>("eps");
    r.get<float>("reserved");
    const auto steps = r.get<std::int64_t>("optimizer steps");
    const auto count = r.get_count("optimizer buffers", 8);
    std::vector<Matrix> buffers;
    for (std::uint32_t i = 0; i < count; ++i) buffers.push_back(r.get_matrix("optimizer buffer"));
    try {
      out.training.optimizer.emplace(o, out.model->parameters());
      out.training.optimizer->restore(steps, std::move(buffers));
    } catch (const std::invalid_argument& e) {
      r.fail(std::string("bad optimizer state: ") + e.what());
    }
  }
  return out;
}

}  // namespace

void save_checkpoint(const std::string& path, const SequenceModel& model, const TrainingState& training,
                     const CheckpointExtras& extras) {
  save_any(path, model, training, extras);
}

void save_checkpoint(const std::string& path, const SequenceRegressor& model, const TrainingState& training,
                     const CheckpointExtras& extras) {
  save_any(path, model, training, extras);
}

LoadedCheckpoint load_checkpoint(const std::string& path) { return load_any<SequenceModel, ModelConfig>(path); }

LoadedRegressorCheckpoint load_regressor_checkpoint(const std::string& path) {
  return load_any<SequenceRegressor, RegressorConfig>(path);
}

}  // namespace lmn
