// `_core.Model`: the sequence model with its training state. Heavy calls
// release the GIL; fit() re-takes it between batches only to report
// progress and to notice Ctrl-C.
#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "base/read_bandwidth.hpp"
#include "generate/int8_products.hpp"
#include "generate/sampler.hpp"
#include "generate/stepper_cache.hpp"
#include "generate/stepper_loss.hpp"
#include "interrupt_hook.hpp"
#include "io/checkpoint.hpp"
#include "numpy_convert.hpp"
#include "train/trainer.hpp"

namespace py = pybind11;
using namespace lmn;
using lmn::py_convert::to_array;
using lmn::py_convert::to_vector;

namespace {

using TokenArray = py::array_t<int, py::array::c_style | py::array::forcecast>;

struct Model {
  std::unique_ptr<SequenceModel> net;
  TrainingState training;
  // Calls on one model from several Python threads take turns: training and
  // whatever writes the weights or gradients hold it alone, reads share it.
  std::unique_ptr<std::shared_mutex> mutex = std::make_unique<std::shared_mutex>();
  // The thread holding it alone: fit()'s callbacks run there and may use
  // the model (the CLI saves it after every epoch), so that thread passes.
  std::unique_ptr<std::atomic<std::thread::id>> writer = std::make_unique<std::atomic<std::thread::id>>();
  // generate()'s stepper weights; every writer clears them (WriteLock).
  std::unique_ptr<StepperCache> steppers = std::make_unique<StepperCache>();
};

// Holds a model alone for a scope (nothing, on the thread already holding it).
class WriteLock {
 public:
  explicit WriteLock(const Model& model) : model_(model) {
    if (model_.writer->load() == std::this_thread::get_id()) return;
    py::gil_scoped_release release;  // fit() re-takes the GIL for its callbacks while it holds the model
    lock_ = std::unique_lock(*model_.mutex);
    model_.writer->store(std::this_thread::get_id());
  }
  ~WriteLock() {
    if (!lock_.owns_lock()) return;
    model_.steppers->clear();  // the weights may have changed
    model_.writer->store(std::thread::id());
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  const Model& model_;
  std::unique_lock<std::shared_mutex> lock_;
};

// Shares a model for a scope; waits with the GIL released (see WriteLock).
std::shared_lock<std::shared_mutex> lock_to_read(const Model& model) {
  if (model.writer->load() == std::this_thread::get_id()) return {};
  py::gil_scoped_release release;
  return std::shared_lock(*model.mutex);
}

// (B, T) batch-major tokens -> time-major, as the core wants them.
std::vector<int> time_major(const TokenArray& tokens, int& B, int& T, const char* what) {
  if (tokens.ndim() != 2) {
    throw py::value_error(std::string(what) + ": expected a 2-D (batch, time) array, got " +
                          std::to_string(tokens.ndim()) + " dimensions");
  }
  B = static_cast<int>(tokens.shape(0));
  T = static_cast<int>(tokens.shape(1));
  if (B == 0 || T == 0) {
    throw py::value_error(std::string(what) + ": empty array of shape (" + std::to_string(B) + ", " +
                          std::to_string(T) + ")");
  }
  std::vector<int> out(static_cast<std::size_t>(B) * T);
  const int* src = tokens.data();
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) out[static_cast<std::size_t>(t) * B + b] = src[static_cast<std::size_t>(b) * T + t];
  return out;
}

py::dict config_dict(const ModelConfig& c) {
  py::dict d;
  d["cell"] = cell_name(c.cell);
  d["vocab_size"] = c.vocab_size;
  d["hidden_size"] = c.hidden_size;
  d["num_layers"] = c.num_layers;
  d["embedding_dim"] = c.embedding_dim > 0 ? py::object(py::int_(c.embedding_dim)) : py::object(py::none());
  d["dropout"] = c.dropout;
  return d;
}

bool is_bias(const std::string& name) { return name.find(".bias") != std::string::npos; }

py::dict named_arrays(const SequenceModel& net, bool grads) {
  py::dict out;
  for (const auto& [name, var] : net.named_parameters()) {
    const Matrix& m =
        grads ? (var->grad.empty() ? Matrix(var->value.rows(), var->value.cols()) : var->grad) : var->value;
    out[py::str(name)] = is_bias(name) ? py::object(to_vector(m)) : py::object(to_array(m));
  }
  return out;
}

void load_state(SequenceModel& net, const py::dict& state) {
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, var] : net.named_parameters())
    if (!state.contains(py::str(name))) missing.push_back(name);
  for (const auto& item : state) {
    const std::string name = py::str(item.first);
    bool known = false;
    for (const auto& [n, v] : net.named_parameters()) known = known || n == name;
    if (!known) unexpected.push_back(name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg = "load_state_dict:";
    if (!missing.empty()) msg += " missing " + py::str(py::cast(missing)).cast<std::string>();
    if (!unexpected.empty()) msg += " unexpected " + py::str(py::cast(unexpected)).cast<std::string>();
    throw py::value_error(msg);
  }
  // Check every shape before changing anything, so a bad dict leaves the model as it was.
  std::vector<Matrix> values;
  for (const auto& [name, var] : net.named_parameters()) {
    auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(state[py::str(name)]);
    if (!arr) throw py::type_error("load_state_dict: '" + name + "' is not a numeric array");
    const Matrix& want = var->value;
    const bool ok = is_bias(name) ? (arr.ndim() == 1 && arr.shape(0) == want.cols())
                                  : (arr.ndim() == 2 && arr.shape(0) == want.rows() && arr.shape(1) == want.cols());
    if (!ok) {
      std::string got = "(";
      for (py::ssize_t i = 0; i < arr.ndim(); ++i) got += (i ? ", " : "") + std::to_string(arr.shape(i));
      got += arr.ndim() == 1 ? ",)" : ")";
      const std::string expected = is_bias(name) ? "(" + std::to_string(want.cols()) + ",)" : want.shape_str();
      throw py::value_error("load_state_dict: '" + name + "' has shape " + got + ", expected " + expected);
    }
    Matrix m(want.rows(), want.cols(), arr.data());
    if (!all_finite(m)) throw py::value_error("load_state_dict: '" + name + "' contains NaN or infinity");
    values.push_back(std::move(m));
  }
  std::size_t i = 0;
  for (const auto& [name, var] : net.named_parameters()) var->value = std::move(values[i++]);
}

template <typename T>
T get_or(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return d[key].cast<T>();
}

TrainConfig train_config(const py::dict& d) {
  TrainConfig c;
  c.epochs = get_or(d, "epochs", c.epochs);
  c.batch_size = get_or(d, "batch_size", c.batch_size);
  c.seq_len = get_or(d, "seq_len", c.seq_len);
  c.truncate = get_or(d, "truncate", 0);
  c.optimizer.kind = parse_optimizer(get_or<std::string>(d, "optimizer", "adam"));
  c.optimizer.lr = get_or(d, "lr", c.optimizer.lr);
  c.optimizer.momentum = get_or(d, "momentum", c.optimizer.momentum);
  c.optimizer.weight_decay = get_or(d, "weight_decay", c.optimizer.weight_decay);
  c.clip_norm = get_or(d, "clip_norm", 0.0f);
  c.clip_value = get_or(d, "clip_value", 0.0f);
  c.lr_step_epochs = get_or(d, "lr_step_epochs", 0);
  c.lr_gamma = get_or(d, "lr_gamma", c.lr_gamma);
  c.patience = get_or(d, "patience", 0);
  c.restore_best = get_or(d, "restore_best", c.restore_best);
  c.seed = get_or<std::uint64_t>(d, "seed", 0);
  c.fused = get_or(d, "fused", true);
  c.tune_threads = get_or(d, "tune_threads", true);
  return c;
}

py::dict epoch_row(const EpochStats& e) {
  py::dict row;
  row["epoch"] = e.epoch;
  row["train_loss"] = e.train_loss;
  row["val_loss"] = e.val_loss;
  row["val_accuracy"] = e.val_accuracy;
  row["tokens_per_sec"] = e.tokens_per_sec;
  row["seconds"] = e.seconds;
  row["lr"] = e.lr;
  return row;
}

// A Python callback's verdict: None or truthy continues, falsy stops.
bool keep_going(const py::object& verdict) { return verdict.is_none() || verdict.cast<bool>(); }

py::dict fit_model(Model& self, const Sequences& train, const Sequences& val, const py::dict& options,
                   const py::object& on_batch, const py::object& on_epoch) {
  const TrainConfig config = train_config(options);
  const WriteLock lock(self);
  bool keyboard_interrupt = false;
  FitCallbacks callbacks;
  callbacks.on_batch = [&](const BatchProgress& p) {
    py::gil_scoped_acquire acquire;
    if (PyErr_CheckSignals() != 0) {
      if (!PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) throw py::error_already_set();
      PyErr_Clear();  // Ctrl-C: stop cleanly between batches
      keyboard_interrupt = true;
      return false;
    }
    return on_batch.is_none() || keep_going(on_batch(p.epoch, p.batch, p.batches, p.loss, p.tokens_per_sec));
  };
  callbacks.on_epoch = [&](const EpochStats& e) {
    py::gil_scoped_acquire acquire;
    return on_epoch.is_none() || keep_going(on_epoch(epoch_row(e)));
  };
  FitResult result;
  {
    py::gil_scoped_release release;
    result = fit(*self.net, self.training, config, train, val, callbacks);
  }
  if (result.interrupt_requested) {  // Ctrl-C inside a step: fit stops cleanly, as between batches
    lmn::py_interrupt::discard_pending();
    keyboard_interrupt = true;
  }
  py::list history;
  for (const auto& e : result.history) history.append(epoch_row(e));
  py::dict out;
  out["history"] = history;
  out["interrupted"] = result.interrupted;
  out["keyboard_interrupt"] = keyboard_interrupt;
  out["stopped_early"] = result.stopped_early;
  out["best_epoch"] = result.best_epoch;
  out["first_loss"] = result.first_loss ? py::object(py::float_(*result.first_loss)) : py::object(py::none());
  return out;
}

}  // namespace

void bind_model(py::module_& m) {
  m.def(
      "read_bandwidth",
      [](std::size_t bytes, int threads, double seconds) {
        py::gil_scoped_release release;
        return read_bandwidth(bytes, threads, seconds);
      },
      py::arg("bytes"), py::arg("threads"), py::arg("seconds") = 0.2,
      "GB/s of `threads` threads streaming `bytes` of memory over and over (the roofline of generation).");
  m.def(
      "int8_kernel", [] { return int8::kernel_name(int8::active_kernel()); },
      "The int8 dot-product kernel generation uses on this CPU.");
  m.def("sample_seed", &sample_seed, py::arg("seed"), py::arg("index"),
        "The seed of sample `index` of a batch drawn with `seed` (generate(..., num_samples=N)).");
  py::class_<Model>(m, "Model")
      .def(py::init([](const std::string& cell, int vocab_size, int hidden_size, int num_layers, int embedding_dim,
                       float dropout, std::uint64_t seed) {
             ModelConfig c{parse_cell(cell), vocab_size, hidden_size, num_layers, embedding_dim, dropout};
             return Model{std::make_unique<SequenceModel>(c, seed),
                          {},
                          std::make_unique<std::shared_mutex>(),
                          std::make_unique<std::atomic<std::thread::id>>()};
           }),
           py::arg("cell"), py::arg("vocab_size"), py::arg("hidden_size"), py::arg("num_layers"),
           py::arg("embedding_dim"), py::arg("dropout"), py::arg("seed"))
      .def_property_readonly("config", [](const Model& self) { return config_dict(self.net->config()); })
      .def_property_readonly("epochs_done",
                             [](const Model& self) {
                               const auto lock = lock_to_read(self);
                               return self.training.epochs_done;
                             })
      .def_property_readonly("parameter_names",
                             [](const Model& self) {
                               std::vector<std::string> names;
                               for (const auto& [name, var] : self.net->named_parameters()) names.push_back(name);
                               return names;
                             })
      .def(
          "forward",
          [](Model& self, const TokenArray& tokens, bool fused) {
            int B, T;
            const std::vector<int> tm = time_major(tokens, B, T, "tokens");
            const auto lock = lock_to_read(self);
            Matrix logits;
            {
              py::gil_scoped_release release;
              NoGradGuard no_grad;
              Rng unused(0);
              ModelState state = self.net->zero_state(B);
              logits = self.net->forward(tm, T, B, state, false, unused, fused)->value;
            }
            const int V = self.net->config().vocab_size;
            py::array_t<float> out({B, T, V});
            float* dst = out.mutable_data();
            for (int t = 0; t < T; ++t)
              for (int b = 0; b < B; ++b)
                std::copy_n(logits.row(t * B + b), V, dst + (static_cast<std::size_t>(b) * T + t) * V);
            return out;
          },
          py::arg("tokens"), py::arg("fused") = true)
      .def(
          "loss_and_grads",
          [](Model& self, const TokenArray& inputs, const TokenArray& targets, bool fused) {
            int B, T, B2, T2;
            const std::vector<int> x = time_major(inputs, B, T, "inputs");
            const std::vector<int> y = time_major(targets, B2, T2, "targets");
            if (B != B2 || T != T2) {
              throw py::value_error("targets shape (" + std::to_string(B2) + ", " + std::to_string(T2) +
                                    ") differs from inputs shape (" + std::to_string(B) + ", " + std::to_string(T) +
                                    ")");
            }
            const WriteLock lock(self);
            float loss_value;
            {
              py::gil_scoped_release release;
              zero_grads(self.net->parameters());
              Rng unused(0);
              ModelState state = self.net->zero_state(B);
              self.net->check_tokens(y);
              Var loss = cross_entropy_loss(self.net->forward(x, T, B, state, false, unused, fused), y);
              loss_value = loss->value[0];
              backward(loss);
            }
            py::dict grads = named_arrays(*self.net, true);
            zero_grads(self.net->parameters());
            return py::make_tuple(loss_value, grads);
          },
          py::arg("inputs"), py::arg("targets"), py::arg("fused") = true)
      .def("state_dict",
           [](const Model& self) {
             const auto lock = lock_to_read(self);
             return named_arrays(*self.net, false);
           })
      .def("load_state_dict",
           [](Model& self, const py::dict& state) {
             const WriteLock lock(self);
             load_state(*self.net, state);
           })
      .def("fit", &fit_model, py::arg("train"), py::arg("val"), py::arg("options"), py::arg("on_batch") = py::none(),
           py::arg("on_epoch") = py::none())
      .def(
          "evaluate",
          [](const Model& self, const Sequences& data, int batch_size, int seq_len) {
            EvalResult r;
            {
              const auto lock = lock_to_read(self);
              py::gil_scoped_release release;
              r = evaluate(*self.net, data, batch_size, seq_len);
            }
            py::dict d;
            d["loss"] = r.loss;
            d["perplexity"] = r.perplexity;
            d["accuracy"] = r.accuracy;
            d["tokens"] = r.tokens;
            return d;
          },
          py::arg("data"), py::arg("batch_size"), py::arg("seq_len"))
      .def(
          "generate",
          [](const Model& self, const std::vector<std::vector<int>>& primers, int length, float temperature, int top_k,
             float top_p, const std::vector<std::uint64_t>& seeds, int stop_token, const std::string& precision) {
            SampleConfig c{length, temperature, top_k, top_p, 0, stop_token, parse_precision(precision)};
            const auto lock = lock_to_read(self);
            py::gil_scoped_release release;
            // On the thread holding the model alone (a fit() callback) the
            // weights are still changing: build them afresh, uncached.
            const bool writing = self.writer->load() == std::this_thread::get_id();
            auto weights = writing ? std::make_shared<const StepperWeights>(*self.net, c.precision)
                                   : self.steppers->get(*self.net, c.precision);
            return generate_batch(std::move(weights), primers, seeds, c);
          },
          py::arg("primers"), py::arg("length"), py::arg("temperature"), py::arg("top_k"), py::arg("top_p"),
          py::arg("seeds"), py::arg("stop_token"), py::arg("precision"))
      .def(
          "generation_loss",
          [](const Model& self, const std::vector<std::vector<int>>& sequences, const std::string& precision) {
            const WeightPrecision p = parse_precision(precision);
            const auto lock = lock_to_read(self);
            StepperLoss r;
            {
              py::gil_scoped_release release;
              const bool writing = self.writer->load() == std::this_thread::get_id();
              auto weights =
                  writing ? std::make_shared<const StepperWeights>(*self.net, p) : self.steppers->get(*self.net, p);
              r = stepper_loss(std::move(weights), sequences);
            }
            return py::make_tuple(r.loss, r.tokens);
          },
          py::arg("sequences"), py::arg("precision"))
      .def("generation_bytes_per_step",
           [](const Model& self, const std::string& precision) {
             const auto lock = lock_to_read(self);
             return self.steppers->get(*self.net, parse_precision(precision))->weight_bytes;
           })
      .def_property_readonly("stepper_builds", [](const Model& self) { return self.steppers->builds(); })
      .def(
          "save",
          [](const Model& self, const std::string& path, const std::vector<std::string>& vocabulary,
             const std::string& metadata) {
            const auto lock = lock_to_read(self);
            py::gil_scoped_release release;
            save_checkpoint(path, *self.net, self.training, {vocabulary, metadata});
          },
          py::arg("path"), py::arg("vocabulary"), py::arg("metadata"))
      .def_static(
          "load",
          [](const std::string& path) {
            LoadedCheckpoint c = load_checkpoint(path);
            Model model;
            model.net = std::move(c.model);
            model.training = std::move(c.training);
            return py::make_tuple(std::move(model), c.extras.vocabulary, c.extras.metadata);
          },
          py::arg("path"));
}
