// `_core.Regressor`: the sequence regressor with its training state, under
// the same per-model lock and fit() contract as `_core.Model`. Sequences
// cross as lists of float32 (T, F) arrays (the Python layer turns (B, T, F)
// arrays into such lists).
#include <atomic>
#include <memory>
#include <thread>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "fit_binding.hpp"
#include "io/checkpoint.hpp"
#include "model_lock.hpp"
#include "numpy_convert.hpp"
#include "state_dict.hpp"
#include "train/regression_trainer.hpp"

namespace py = pybind11;
using namespace lmn;
using lmn::py_convert::to_array;
using lmn::py_convert::to_matrix;
using lmn::py_lock::lock_to_read;
using lmn::py_lock::WriteLock;

namespace {

struct Regressor {
  std::unique_ptr<SequenceRegressor> net;
  TrainingState training;
  std::unique_ptr<lmn::WriterFirstMutex> mutex = std::make_unique<lmn::WriterFirstMutex>();
  std::unique_ptr<std::atomic<std::thread::id>> writer = std::make_unique<std::atomic<std::thread::id>>();
};

std::vector<Matrix> matrices(const py::list& arrays, const char* what) {
  std::vector<Matrix> out;
  for (std::size_t i = 0; i < arrays.size(); ++i) {
    const std::string name = std::string(what) + "[" + std::to_string(i) + "]";
    out.push_back(to_matrix(arrays[i], name.c_str()));
  }
  return out;
}

RegressionData regression_data(const py::list& xs, const py::list& ys, const char* what) {
  if (xs.size() != ys.size()) {
    throw py::value_error(std::string(what) + ": " + std::to_string(xs.size()) + " input sequences but " +
                          std::to_string(ys.size()) + " target sequences");
  }
  std::vector<Matrix> x = matrices(xs, what), y = matrices(ys, what);
  RegressionData data;
  for (std::size_t i = 0; i < x.size(); ++i) data.push_back({std::move(x[i]), std::move(y[i])});
  return data;
}

RegressionSetup setup_of(bool many_to_one, const std::string& loss) {
  return {many_to_one, parse_regression_loss(loss)};
}

py::dict config_dict(const RegressorConfig& c) {
  py::dict d;
  d["cell"] = cell_name(c.cell);
  d["input_size"] = c.input_size;
  d["hidden_size"] = c.hidden_size;
  d["num_layers"] = c.num_layers;
  d["output_size"] = c.output_size;
  d["dropout"] = c.dropout;
  return d;
}

Regressor make_regressor(std::unique_ptr<SequenceRegressor> net, TrainingState training = {}) {
  return Regressor{std::move(net), std::move(training), std::make_unique<lmn::WriterFirstMutex>(),
                   std::make_unique<std::atomic<std::thread::id>>()};
}

}  // namespace

void bind_regressor(py::module_& m) {
  py::class_<Regressor>(m, "Regressor")
      .def(py::init([](const std::string& cell, int input_size, int hidden_size, int num_layers, int output_size,
                       float dropout, std::uint64_t seed) {
             RegressorConfig c{parse_cell(cell), input_size, hidden_size, num_layers, output_size, dropout};
             return make_regressor(std::make_unique<SequenceRegressor>(c, seed));
           }),
           py::arg("cell"), py::arg("input_size"), py::arg("hidden_size"), py::arg("num_layers"),
           py::arg("output_size"), py::arg("dropout"), py::arg("seed"))
      .def_property_readonly("config", [](const Regressor& self) { return config_dict(self.net->config()); })
      .def_property_readonly("epochs_done",
                             [](const Regressor& self) {
                               const auto lock = lock_to_read(self);
                               return self.training.epochs_done;
                             })
      .def_property_readonly("epoch_position",
                             [](const Regressor& self) {
                               const auto lock = lock_to_read(self);
                               return py_fit::epoch_position(self);
                             })
      .def_property_readonly("parameter_names",
                             [](const Regressor& self) {
                               std::vector<std::string> names;
                               for (const auto& [name, var] : self.net->named_parameters()) names.push_back(name);
                               return names;
                             })
      .def(
          "predict",
          [](const Regressor& self, const py::list& xs, bool many_to_one, int batch_size) {
            const std::vector<Matrix> inputs = matrices(xs, "inputs");
            std::vector<Matrix> outputs;
            {
              const auto lock = lock_to_read(self);
              py::gil_scoped_release release;
              outputs = predict(*self.net, inputs, many_to_one, batch_size);
            }
            py::list out;
            for (const Matrix& o : outputs) out.append(to_array(o));
            return out;
          },
          py::arg("inputs"), py::arg("many_to_one"), py::arg("batch_size"))
      .def(
          "loss_and_grads",
          [](Regressor& self, const py::list& xs, const py::list& ys, bool many_to_one, const std::string& loss,
             bool fused) {
            const RegressionData data = regression_data(xs, ys, "sequences");
            const RegressionSetup setup = setup_of(many_to_one, loss);
            const WriteLock lock(self);
            float value;
            {
              py::gil_scoped_release release;
              zero_grads(self.net->parameters());
              const Var l = batch_loss(*self.net, setup, data, fused);
              value = l->value[0];
              backward(l);
            }
            py::dict grads = py_state::named_arrays(self.net->named_parameters(), true);
            zero_grads(self.net->parameters());
            return py::make_tuple(value, grads);
          },
          py::arg("inputs"), py::arg("targets"), py::arg("many_to_one"), py::arg("loss"), py::arg("fused") = true)
      .def("state_dict",
           [](const Regressor& self) {
             const auto lock = lock_to_read(self);
             return py_state::named_arrays(self.net->named_parameters(), false);
           })
      .def("load_state_dict",
           [](Regressor& self, const py::dict& state) {
             const WriteLock lock(self);
             py_state::load_state(self.net->named_parameters(), state);
             self.training.early_stopping.best_is_current = false;  // new weights: the best are no longer these
           })
      .def(
          "fit",
          [](Regressor& self, const py::list& train_x, const py::list& train_y, const py::list& val_x,
             const py::list& val_y, bool many_to_one, const std::string& loss, const py::dict& options,
             const py::object& on_batch, const py::object& on_epoch) {
            const RegressionData train = regression_data(train_x, train_y, "training data");
            const RegressionData val = regression_data(val_x, val_y, "validation data");
            const RegressionSetup setup = setup_of(many_to_one, loss);
            return py_fit::fit_with_callbacks(self, options, on_batch, on_epoch, [&](auto& config, auto& callbacks) {
              return fit(*self.net, self.training, config, setup, train, val, callbacks);
            });
          },
          py::arg("train_x"), py::arg("train_y"), py::arg("val_x"), py::arg("val_y"), py::arg("many_to_one"),
          py::arg("loss"), py::arg("options"), py::arg("on_batch") = py::none(), py::arg("on_epoch") = py::none())
      .def(
          "evaluate",
          [](const Regressor& self, const py::list& xs, const py::list& ys, bool many_to_one, const std::string& loss,
             int batch_size, int seq_len) {
            const RegressionData data = regression_data(xs, ys, "sequences");
            const RegressionSetup setup = setup_of(many_to_one, loss);
            EvalResult r;
            std::vector<Matrix> outputs;
            {  // the loss and the outputs from the same weights, under one lock
              const auto lock = lock_to_read(self);
              py::gil_scoped_release release;
              r = evaluate(*self.net, setup, data, batch_size, seq_len);
              std::vector<Matrix> inputs;
              for (const RegressionSequence& sequence : data) inputs.push_back(sequence.x);
              outputs = predict(*self.net, inputs, many_to_one, batch_size);
            }
            py::dict d;
            d["loss"] = r.loss;
            d["targets"] = r.tokens;
            py::list predictions;
            for (const Matrix& o : outputs) predictions.append(to_array(o));
            d["predictions"] = predictions;
            return d;
          },
          py::arg("inputs"), py::arg("targets"), py::arg("many_to_one"), py::arg("loss"), py::arg("batch_size"),
          py::arg("seq_len"))
      .def(
          "forecast",
          [](const Regressor& self, const py::handle& history, int steps, const std::vector<float>& scale,
             const std::vector<float>& shift) {
            const Matrix h = to_matrix(history, "history");
            Matrix out;
            {
              const auto lock = lock_to_read(self);
              py::gil_scoped_release release;
              out = forecast(*self.net, h, steps, scale, shift);
            }
            return to_array(out);
          },
          py::arg("history"), py::arg("steps"), py::arg("feedback_scale"), py::arg("feedback_shift"))
      .def(
          "save",
          [](const Regressor& self, const std::string& path, const std::string& metadata) {
            const auto lock = lock_to_read(self);
            py::gil_scoped_release release;
            save_checkpoint(path, *self.net, self.training, {{}, metadata});
          },
          py::arg("path"), py::arg("metadata"))
      .def_static(
          "load",
          [](const std::string& path) {
            LoadedRegressorCheckpoint c;
            {
              py::gil_scoped_release release;  // as _core.Model.load: other threads run while it reads
              c = load_regressor_checkpoint(path);
            }
            return py::make_tuple(make_regressor(std::move(c.model), std::move(c.training)), c.extras.metadata);
          },
          py::arg("path"));
}
