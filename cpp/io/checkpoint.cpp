#include "io/checkpoint.hpp"

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string_view>
#include <type_traits>
#include <unordered_map>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic_file.hpp"
#include "tensor/matrix_math.hpp"

namespace lmn {

static_assert(std::endian::native == std::endian::little, "checkpoints are written little-endian");

namespace {

constexpr char kMagic[8] = {'L', 'M', 'N', 'C', 'K', 'P', 'T', '1'};

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

// Whether the bytes are well-formed UTF-8 (no overlongs, surrogates or
// code points above U+10FFFF): vocabulary and metadata become Python str.
bool valid_utf8(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      extra = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      extra = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= s.size()) return false;  // cut short
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    i += extra + 1;
  }
  return true;
}

// A name from the file, quoted for a message: bytes outside printable ASCII as \xNN.
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F) {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return out;
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
  Reader(std::string_view bytes, std::string path) : bytes_(bytes), path_(std::move(path)) {}
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
    std::string s(bytes_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // A matrix whose shape must be `expected`: the shape is checked before
  // anything is allocated, the values after reading (no NaN or infinity).
  Matrix get_matrix(const std::string& what, const Matrix& expected) {
    const auto rows = get<std::int32_t>(what.c_str());
    const auto cols = get<std::int32_t>(what.c_str());
    if (rows != expected.rows() || cols != expected.cols()) {
      fail(what + " has shape (" + std::to_string(rows) + ", " + std::to_string(cols) + "), expected " +
           expected.shape_str());
    }
    const std::size_t n = static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
    need(n * sizeof(float), what.c_str());
    // The floats sit at any byte offset in the file: copy them, never read them in place (misaligned).
    Matrix m(rows, cols, Matrix::kUninitialized);
    if (n > 0) std::memcpy(m.data(), bytes_.data() + pos_, n * sizeof(float));
    if (!all_finite(m)) fail(what + " contains NaN or infinity");
    pos_ += n * sizeof(float);
    return m;
  }
  std::size_t remaining() const { return bytes_.size() - pos_; }
  // Guards counts read from the file against absurd allocations.
  std::uint32_t get_count(const char* what, std::size_t min_bytes_each) {
    const auto n = get<std::uint32_t>(what);
    if (static_cast<std::size_t>(n) * min_bytes_each > bytes_.size() - pos_) {
      fail(std::string("impossible ") + what + " " + std::to_string(n) + " for a file of " +
           std::to_string(bytes_.size()) + " bytes");
    }
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
  std::string_view bytes_;
  std::string path_;
  std::size_t pos_ = 0;
};

// Reads a whole regular file (a directory, FIFO or device is refused: its
// "contents" could be an error or endless).
std::string read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    throw IoError("cannot open checkpoint '" + path + "': " + std::strerror(err), err);
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int err = errno;
    throw IoError("cannot read checkpoint '" + path + "': " + std::strerror(err), err);
  }
  if (S_ISDIR(info.st_mode)) throw IoError("cannot read checkpoint '" + path + "': it is a directory", EISDIR);
  if (!S_ISREG(info.st_mode)) throw IoError("cannot read checkpoint '" + path + "': not a regular file", EINVAL);
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      throw IoError("cannot read checkpoint '" + path + "': " + std::strerror(err), err);
    }
    if (n == 0) break;  // the file shrank while we read it
    done += static_cast<std::size_t>(n);
  }
  bytes.resize(done);
  return bytes;
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

// The vocabulary a config allows (a regressor has none) and its sizes in words.
std::uint32_t vocabulary_size(const ModelConfig& c) { return static_cast<std::uint32_t>(c.vocab_size); }
std::uint32_t vocabulary_size(const RegressorConfig&) { return 0; }
std::string describe(const ModelConfig& c) {
  return "vocab_size " + std::to_string(c.vocab_size) + ", hidden_size " + std::to_string(c.hidden_size) +
         ", num_layers " + std::to_string(c.num_layers);
}
std::string describe(const RegressorConfig& c) {
  return "input_size " + std::to_string(c.input_size) + ", hidden_size " + std::to_string(c.hidden_size) +
         ", num_layers " + std::to_string(c.num_layers) + ", output_size " + std::to_string(c.output_size);
}

// Version 2's last section: where a stopped epoch stood (see EpochPosition).
void put_position(Writer& w, const std::optional<EpochPosition>& position) {
  w.put(static_cast<std::uint8_t>(position.has_value()));
  if (!position) return;
  const EpochPosition& p = *position;
  w.put(p.layout);
  w.put(static_cast<std::int32_t>(p.batch));
  w.put(static_cast<std::int32_t>(p.step));
  for (std::uint64_t word : p.dropout_rng) w.put(word);
  w.put(p.loss_sum);
  w.put(static_cast<std::int64_t>(p.tokens));
  w.put(p.seconds);
  w.put(static_cast<std::int32_t>(p.carried.empty() ? 0 : p.carried.front().h.rows()));
  for (const auto& layer : p.carried) {
    w.put_matrix(layer.h);
    w.put_matrix(layer.c);
  }
}

template <class Net>
std::optional<EpochPosition> get_position(Reader& r, const Net& model) {
  const auto flag = r.get<std::uint8_t>("position flag");
  if (flag > 1) r.fail("position flag is " + std::to_string(flag) + ", expected 0 or 1");
  if (flag == 0) return std::nullopt;
  EpochPosition p;
  p.layout = r.get<std::uint64_t>("position layout");
  p.batch = r.get<std::int32_t>("position batch");
  p.step = r.get<std::int32_t>("position step");
  if (p.batch < 0 || p.step < 0) {
    r.fail("position batch " + std::to_string(p.batch) + ", step " + std::to_string(p.step) + " is negative");
  }
  for (auto& word : p.dropout_rng) word = r.get<std::uint64_t>("position dropout stream");
  if (!Rng::valid(p.dropout_rng)) r.fail("the position's dropout stream is all zeros");
  p.loss_sum = r.get<double>("position loss sum");
  const auto tokens = r.get<std::int64_t>("position tokens");
  p.seconds = r.get<double>("position seconds");
  if (!(std::isfinite(p.loss_sum) && p.loss_sum >= 0.0) || tokens < 0 ||
      !(std::isfinite(p.seconds) && p.seconds >= 0.0)) {
    r.fail("the position's loss sum, tokens or seconds is negative or not finite");
  }
  // Each token's loss is a float32, so their sum has a ceiling.
  if (p.loss_sum > static_cast<double>(tokens) * std::numeric_limits<float>::max()) {
    char sum[32];
    std::snprintf(sum, sizeof sum, "%g", p.loss_sum);
    r.fail("the position's loss sum " + std::string(sum) + " is more than its " + std::to_string(tokens) +
           " tokens' float32 losses can add up to");
  }
  p.tokens = static_cast<long>(tokens);
  // The state carried inside a batch: (rows, hidden) per layer, as zero_state(rows) has it.
  const auto rows = r.get<std::int32_t>("position state rows");
  if ((p.step == 0) != (rows == 0) || rows < 0) {
    r.fail("position state rows " + std::to_string(rows) + " at step " + std::to_string(p.step));
  }
  if (rows > 0) {
    const ModelState one_row = model.zero_state(1);
    double floats_per_row = 0;
    for (const auto& layer : one_row) floats_per_row += layer.h.size() + layer.c.size();
    if (floats_per_row * rows * sizeof(float) > static_cast<double>(r.remaining())) {
      r.fail("position state rows " + std::to_string(rows) + " need more bytes than the file has left");
    }
    for (const auto& layer : model.zero_state(rows)) {
      RecurrentState state;
      state.h = r.get_matrix("the position's carried state", layer.h);
      state.c = r.get_matrix("the position's carried state", layer.c);
      p.carried.push_back(std::move(state));
    }
  }
  return p;
}

// Version 2's early-stopping section (see EarlyStopping in train/trainer.hpp).
// The best weights are written only when training moved on from them.
enum class BestWeights : std::uint8_t { None = 0, TheCurrentOnes = 1, Stored = 2 };

void put_early_stopping(Writer& w, const EarlyStopping& e) {
  w.put(e.validation);
  w.put(e.best_val);
  w.put(static_cast<std::int32_t>(e.best_epoch));
  w.put(static_cast<std::int32_t>(e.epochs_without_improvement));
  const BestWeights kind = e.best_weights.empty() ? BestWeights::None
                           : e.best_is_current    ? BestWeights::TheCurrentOnes
                                                  : BestWeights::Stored;
  w.put(static_cast<std::uint8_t>(kind));
  if (kind == BestWeights::Stored)
    for (const auto& m : e.best_weights) w.put_matrix(m);
}

template <class Net>
EarlyStopping get_early_stopping(Reader& r, const Net& model, int epochs_done) {
  EarlyStopping e;
  e.validation = r.get<std::uint64_t>("early stopping validation");
  e.best_val = r.get<double>("best validation loss");
  e.best_epoch = r.get<std::int32_t>("best epoch");
  e.epochs_without_improvement = r.get<std::int32_t>("epochs without improvement");
  if (e.best_epoch < 0 || e.best_epoch > epochs_done || e.epochs_without_improvement < 0 ||
      e.epochs_without_improvement > epochs_done) {
    r.fail("best epoch " + std::to_string(e.best_epoch) + " or epochs without improvement " +
           std::to_string(e.epochs_without_improvement) + " is outside [0, epochs_done " + std::to_string(epochs_done) +
           "]");
  }
  const bool has_best = e.best_epoch > 0;
  const bool valid_best =
      has_best ? std::isfinite(e.best_val) && e.best_val >= 0.0 : e.best_val == std::numeric_limits<double>::infinity();
  if (!valid_best) {
    r.fail("best validation loss " + std::to_string(e.best_val) + " for best epoch " + std::to_string(e.best_epoch));
  }
  const auto kind = r.get<std::uint8_t>("best weights kind");
  if (kind > 2 || (kind != 0 && !has_best)) {
    r.fail("best weights kind " + std::to_string(kind) + " for best epoch " + std::to_string(e.best_epoch));
  }
  if (kind == static_cast<std::uint8_t>(BestWeights::TheCurrentOnes)) {
    for (const auto& [name, var] : model.named_parameters()) e.best_weights.push_back(var->value);
    e.best_is_current = true;
  } else if (kind == static_cast<std::uint8_t>(BestWeights::Stored)) {
    for (const auto& [name, var] : model.named_parameters())
      e.best_weights.push_back(r.get_matrix("best weights '" + name + "'", var->value));
  }
  return e;
}

template <class Net>
void save_any(const std::string& path, const Net& model, const TrainingState& training,
              const CheckpointExtras& extras) {
  check_no_nul(path, "checkpoint");
  // A checkpoint never holds a NaN or infinity: refuse before touching the file.
  for (const auto& [name, var] : model.named_parameters()) {
    if (!all_finite(var->value)) {
      throw std::invalid_argument("cannot save checkpoint '" + path + "': weight '" + name +
                                  "' contains NaN or infinity");
    }
  }
  for (const auto& m : training.early_stopping.best_weights) {
    if (!all_finite(m)) {
      throw std::invalid_argument("cannot save checkpoint '" + path + "': the best weights contain NaN or infinity");
    }
  }
  if (training.position) {
    for (const auto& layer : training.position->carried) {
      if (!all_finite(layer.h) || !all_finite(layer.c)) {
        throw std::invalid_argument("cannot save checkpoint '" + path +
                                    "': the stopped epoch's carried state contains NaN or infinity");
      }
    }
  }
  if (training.optimizer) {
    for (const auto& m : training.optimizer->buffers()) {
      if (!all_finite(m)) {
        throw std::invalid_argument("cannot save checkpoint '" + path +
                                    "': the optimizer state contains NaN or infinity");
      }
    }
  }
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
  put_position(w, training.position);
  put_early_stopping(w, training.early_stopping);
  w.put(fnv1a(w.bytes()));
  write_file_atomically(path, w.bytes(), "checkpoint");
}

template <class Net, class Config>
LoadedCheckpointOf<Net> load_any(const std::string& path) {
  check_no_nul(path, "checkpoint");
  const std::string bytes = read_file(path);
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw CheckpointFormatError("'" + path + "' is not an LSTMiniNet checkpoint (wrong magic bytes)");
  }
  if (bytes.size() < sizeof kMagic + 4 + 8) {
    throw CheckpointFormatError("checkpoint '" + path + "' is truncated: only " + std::to_string(bytes.size()) +
                                " bytes");
  }
  std::uint32_t version;
  std::memcpy(&version, bytes.data() + sizeof kMagic, sizeof version);
  if (version < 1 || version > kCheckpointVersion) {
    throw CheckpointFormatError("checkpoint '" + path + "' has version " + std::to_string(version) +
                                "; this build reads versions 1 to " + std::to_string(kCheckpointVersion));
  }
  std::uint64_t stored;
  std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
  // Views, not copies: a checkpoint can be gigabytes.
  const std::string_view body(bytes.data(), bytes.size() - 8);
  if (stored != fnv1a(body)) {
    throw CheckpointFormatError("checkpoint '" + path + "' is damaged or truncated (checksum mismatch)");
  }

  // Everything but the checksum must be read exactly: bytes left over mean
  // a writer this loader does not understand.
  Reader r(body, path);
  r.get<std::uint64_t>("magic");
  r.get<std::uint32_t>("version");

  const Config c = get_config<Config>(r, path);
  LoadedCheckpointOf<Net> out;
  const auto vocab_count = r.get_count("vocabulary size", 4);
  if (vocab_count != 0 && vocab_count != vocabulary_size(c)) {
    r.fail("the vocabulary has " + std::to_string(vocab_count) + " tokens but the model's vocab_size is " +
           std::to_string(vocabulary_size(c)));
  }
  for (std::uint32_t i = 0; i < vocab_count; ++i) {
    out.extras.vocabulary.push_back(r.get_string("vocabulary"));
    if (!valid_utf8(out.extras.vocabulary.back())) r.fail("vocabulary token " + std::to_string(i) + " is not UTF-8");
  }
  out.extras.metadata = r.get_string("metadata");
  if (!valid_utf8(out.extras.metadata)) r.fail("the metadata is not UTF-8");

  // The tensors the config implies must fit in what is left of the file
  // before the model is allocated (a small file must not ask for gigabytes).
  const double weight_bytes = parameter_count_estimate(c) * sizeof(float);
  if (weight_bytes > static_cast<double>(r.remaining())) {
    r.fail("the config (" + describe(c) + ") needs more weight bytes than the " + std::to_string(r.remaining()) +
           " left in the file");
  }
  out.model = std::make_unique<Net>(c, 0);
  const auto tensors = r.get_count("tensor count", 12);
  if (tensors != out.model->named_parameters().size()) {
    r.fail(std::to_string(tensors) + " tensors where the config needs " +
           std::to_string(out.model->named_parameters().size()));
  }
  // Looked up by name in a map: a search per tensor made a deep model's
  // load quadratic (20,000 layers: 26 s).
  std::unordered_map<std::string, Var> by_name(out.model->named_parameters().begin(),
                                               out.model->named_parameters().end());
  std::set<std::string> seen;
  for (std::uint32_t i = 0; i < tensors; ++i) {
    const std::string name = r.get_string("tensor name");
    if (!seen.insert(name).second) r.fail("tensor '" + printable(name) + "' appears twice");
    const auto found = by_name.find(name);
    if (found == by_name.end()) r.fail("unexpected tensor '" + printable(name) + "'");
    const Var param = found->second;
    param->value = r.get_matrix("tensor '" + name + "'", param->value);
  }
  out.training.epochs_done = r.get<std::int32_t>("epochs_done");
  if (out.training.epochs_done < 0 || out.training.epochs_done > kMaxEpochs) {
    r.fail("epochs_done " + std::to_string(out.training.epochs_done) + " is outside [0, " + std::to_string(kMaxEpochs) +
           "]");
  }
  out.training.seed = r.get<std::uint64_t>("seed");
  const auto has_optimizer = r.get<std::uint8_t>("optimizer flag");
  if (has_optimizer > 1) r.fail("optimizer flag is " + std::to_string(has_optimizer) + ", expected 0 or 1");
  if (has_optimizer) {
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
    if (r.get<float>("reserved") != 0.0f) r.fail("the reserved optimizer field is not zero");
    const auto steps = r.get<std::int64_t>("optimizer steps");
    if (steps < 0 || steps > kMaxOptimizerSteps) {
      r.fail("optimizer steps " + std::to_string(steps) + " is outside [0, " + std::to_string(kMaxOptimizerSteps) +
             "]");
    }
    try {
      out.training.optimizer.emplace(o, out.model->parameters());
    } catch (const std::invalid_argument& e) {
      r.fail(std::string("bad optimizer settings: ") + e.what());
    }
    const auto& expected = out.training.optimizer->buffers();
    const auto count = r.get_count("optimizer buffer count", 8);
    if (count != expected.size()) {
      r.fail(std::to_string(count) + " optimizer buffers where " + optimizer_name(o.kind) + " needs " +
             std::to_string(expected.size()));
    }
    std::vector<Matrix> buffers;
    for (std::uint32_t i = 0; i < count; ++i) {
      buffers.push_back(r.get_matrix("optimizer buffer " + std::to_string(i), expected[i]));
    }
    try {
      out.training.optimizer->restore(steps, std::move(buffers));
    } catch (const std::invalid_argument& e) {
      r.fail(std::string("bad optimizer state: ") + e.what());
    }
  }
  if (version >= 2) {
    out.training.position = get_position(r, *out.model);
    out.training.early_stopping = get_early_stopping(r, *out.model, out.training.epochs_done);
  }
  if (r.remaining() != 0) r.fail(std::to_string(r.remaining()) + " unexpected bytes before the checksum");
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
