// `_core.Model`: the sequence model with its training state. Heavy calls
// release the GIL; fit() re-takes it between batches only to report
// progress and to notice Ctrl-C.
#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "base/read_bandwidth.hpp"
#include "fit_binding.hpp"
#include "generate/amx_products.hpp"
#include "generate/bf16_products.hpp"
#include "generate/int8_products.hpp"
#include "generate/sampler.hpp"
#include "generate/stepper_cache.hpp"
#include "generate/stepper_loss.hpp"
#include "interrupt_hook.hpp"
#include "io/checkpoint.hpp"
#include "model_lock.hpp"
#include "numpy_convert.hpp"
#include "state_dict.hpp"
#include "train/trainer.hpp"

namespace py = pybind11;
using namespace lmn;
using lmn::py_convert::to_array;
using lmn::py_convert::to_vector;
using lmn::py_lock::lock_to_read;
using lmn::py_lock::WriteLock;
using lmn::py_state::load_state;
using lmn::py_state::named_arrays;

namespace {

// int32 token ids only (no forcecast: 1.7 was read as token 1 and int64 2^32 + 1
// as token 1; lstmininet.model converts and range-checks before calling).
using TokenArray = py::array_t<int, py::array::c_style>;

struct Model {
  std::unique_ptr<SequenceModel> net;
  TrainingState training;
  // Calls on one model from several Python threads take turns: training and
  // whatever writes the weights or gradients hold it alone, reads share it.
  std::unique_ptr<lmn::WriterFirstMutex> mutex = std::make_unique<lmn::WriterFirstMutex>();
  // The thread holding it alone: fit()'s callbacks run there and may use
  // the model (the CLI saves it after every epoch), so that thread passes.
  std::unique_ptr<std::atomic<std::thread::id>> writer = std::make_unique<std::atomic<std::thread::id>>();
  // generate()'s stepper weights; every writer clears them (WriteLock).
  std::unique_ptr<StepperCache> steppers = std::make_unique<StepperCache>();
};

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
  m.def(
      "bf16_kernel", [] { return bf16::kernel_name(bf16::active_kernel()); },
      "The bfloat16 product kernel generation uses on this CPU (one sample).");
  m.def(
      "bf16_batch_kernel", [] { return bf16::kernel_name(bf16::batch_kernel()); },
      "The bfloat16 product kernel for several samples per pass (num_samples) on this CPU.");
  m.def(
      "amx_unavailable_reason", [] { return amx::unavailable_reason(); },
      "Why generation does not use AMX tiles on this CPU and build; empty when it can.");
  m.def(
      "amx_enabled", [] { return amx::enabled(); },
      "Whether generation uses AMX tiles: for bfloat16 products, and int8 products of several samples per pass.");
  m.def("set_amx_enabled", &amx::set_enabled, py::arg("on"),
        "Turns the AMX tile kernels off (or back on where available): for tests and benchmarks.");
  m.def("sample_seed", &sample_seed, py::arg("seed"), py::arg("index"),
        "The seed of sample `index` of a batch drawn with `seed` (generate(..., num_samples=N)).");
  py::class_<Model>(m, "Model")
      .def(py::init([](const std::string& cell, int vocab_size, int hidden_size, int num_layers, int embedding_dim,
                       float dropout, std::uint64_t seed) {
             ModelConfig c{parse_cell(cell), vocab_size, hidden_size, num_layers, embedding_dim, dropout};
             return Model{std::make_unique<SequenceModel>(c, seed),
                          {},
                          std::make_unique<lmn::WriterFirstMutex>(),
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
      .def_property_readonly("epoch_position",
                             [](const Model& self) {
                               const auto lock = lock_to_read(self);
                               return py_fit::epoch_position(self);
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
            py::dict grads = named_arrays(self.net->named_parameters(), true);
            zero_grads(self.net->parameters());
            return py::make_tuple(loss_value, grads);
          },
          py::arg("inputs"), py::arg("targets"), py::arg("fused") = true)
      .def("state_dict",
           [](const Model& self) {
             const auto lock = lock_to_read(self);
             return named_arrays(self.net->named_parameters(), false);
           })
      .def("load_state_dict",
           [](Model& self, const py::dict& state) {
             const WriteLock lock(self);
             load_state(self.net->named_parameters(), state);
             self.training.early_stopping.best_is_current = false;  // new weights: the best are no longer these
           })
      .def(
          "fit",
          [](Model& self, const Sequences& train, const Sequences& val, const py::dict& options,
             const py::object& on_batch, const py::object& on_epoch) {
            return py_fit::fit_with_callbacks(self, options, on_batch, on_epoch, [&](auto& config, auto& callbacks) {
              return fit(*self.net, self.training, config, train, val, callbacks);
            });
          },
          py::arg("train"), py::arg("val"), py::arg("options"), py::arg("on_batch") = py::none(),
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
             const WeightPrecision p = parse_precision(precision);
             const auto lock = lock_to_read(self);
             // The first call builds the stepper weights (or waits for
             // another thread's build): up to seconds for a large model.
             py::gil_scoped_release release;
             return self.steppers->get(*self.net, p)->weight_bytes;
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
            LoadedCheckpoint c;
            {
              // Reading hundreds of MB takes a while: other threads run meanwhile.
              // An error re-takes the GIL as it leaves this scope; pybind11
              // translates it after the lambda (module.cpp), as before.
              py::gil_scoped_release release;
              c = load_checkpoint(path);
            }
            Model model;
            model.net = std::move(c.model);
            model.training = std::move(c.training);
            return py::make_tuple(std::move(model), c.extras.vocabulary, c.extras.metadata);
          },
          py::arg("path"));
}
