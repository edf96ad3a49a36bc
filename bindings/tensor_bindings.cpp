// `Tensor`: the autodiff engine for notebooks. Wraps a Var; numpy in and
// out; arithmetic, matmul, activations, losses, backward() and .grad.
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "numpy_convert.hpp"
#include "ops/ops.hpp"

namespace py = pybind11;
using lmn::Var;
using lmn::py_convert::to_array;
using lmn::py_convert::to_matrix;

namespace {

struct Tensor {
  Var var;
};

Var leaf_of(const py::handle& obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor&>().var;
  return lmn::make_leaf(to_matrix(obj, "Tensor"));
}

// Scalars broadcast over the tensor; anything else must match in shape.
Var operand(const Tensor& self, const py::handle& other) {
  if (py::isinstance<py::float_>(other) || py::isinstance<py::int_>(other)) {
    const float v = other.cast<float>();
    return lmn::make_leaf(lmn::Matrix(self.var->value.rows(), self.var->value.cols(), v));
  }
  return leaf_of(other);
}

// Grad mode is per thread, so one no_grad object keeps a stack of guards
// per thread: leaving it on a thread restores that thread's mode only
// (touched with the GIL held, so no lock of its own).
class NoGrad {
 public:
  void enter() { guards_[std::this_thread::get_id()].push_back(std::make_unique<lmn::NoGradGuard>()); }
  void exit(const py::args&) {
    const auto it = guards_.find(std::this_thread::get_id());
    if (it == guards_.end() || it->second.empty()) {
      throw std::runtime_error("no_grad: left on a thread that did not enter it (grad mode is per thread)");
    }
    it->second.pop_back();
    if (it->second.empty()) guards_.erase(it);
  }

 private:
  std::map<std::thread::id, std::vector<std::unique_ptr<lmn::NoGradGuard>>> guards_;
};

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", "A 2-D float32 value in the autodiff graph (vectors become one row).")
      .def(py::init([](const py::object& data, bool requires_grad) {
             return Tensor{lmn::make_leaf(to_matrix(data, "Tensor"), requires_grad)};
           }),
           py::arg("data"), py::arg("requires_grad") = false)
      .def("numpy", [](const Tensor& t) { return to_array(t.var->value); })
      .def("__array__", [](const Tensor& t, const py::args&, const py::kwargs&) { return to_array(t.var->value); })
      .def_property_readonly("shape",
                             [](const Tensor& t) { return py::make_tuple(t.var->value.rows(), t.var->value.cols()); })
      .def_property_readonly("requires_grad", [](const Tensor& t) { return t.var->requires_grad; })
      .def_property_readonly("grad",
                             [](const Tensor& t) -> py::object {
                               if (t.var->grad.empty()) return py::none();
                               return to_array(t.var->grad);
                             })
      .def("item",
           [](const Tensor& t) {
             if (t.var->value.size() != 1)
               throw py::value_error("item(): tensor of shape " + t.var->value.shape_str() + " is not a scalar");
             return t.var->value[0];
           })
      .def(
          "backward",
          [](const Tensor& t, const py::object& gradient) {
            if (gradient.is_none()) {
              lmn::backward(t.var);
            } else {
              lmn::backward(t.var, to_matrix(gradient, "backward gradient"));
            }
          },
          py::arg("gradient") = py::none(),
          "Backpropagate from this tensor: a scalar, or any shape given the gradient of the result with respect to "
          "it (as torch.Tensor.backward(gradient)).")
      .def("zero_grad", [](const Tensor& t) { t.var->zero_grad(); })
      .def("detach", [](const Tensor& t) { return Tensor{lmn::detach(t.var)}; })
      .def("__add__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::add(a.var, operand(a, b))}; })
      .def("__radd__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::add(operand(a, b), a.var)}; })
      .def("__sub__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::subtract(a.var, operand(a, b))}; })
      .def("__rsub__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::subtract(operand(a, b), a.var)}; })
      .def("__mul__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::multiply(a.var, operand(a, b))}; })
      .def("__rmul__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::multiply(operand(a, b), a.var)}; })
      .def("__neg__", [](const Tensor& a) { return Tensor{lmn::scale(a.var, -1.0f)}; })
      .def("__truediv__",
           [](const Tensor& a, float s) {
             if (s == 0.0f) throw py::value_error("division of a Tensor by zero");
             return Tensor{lmn::scale(a.var, 1.0f / s)};
           })
      .def("__matmul__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::matmul(a.var, leaf_of(b))}; })
      .def("__rmatmul__", [](const Tensor& a, const py::object& b) { return Tensor{lmn::matmul(leaf_of(b), a.var)}; })
      .def_property_readonly("T", [](const Tensor& a) { return Tensor{lmn::transpose(a.var)}; })
      .def("sigmoid", [](const Tensor& a) { return Tensor{lmn::sigmoid(a.var)}; })
      .def("tanh", [](const Tensor& a) { return Tensor{lmn::tanh(a.var)}; })
      .def("relu", [](const Tensor& a) { return Tensor{lmn::relu(a.var)}; })
      .def("exp", [](const Tensor& a) { return Tensor{lmn::exp(a.var)}; })
      .def("log", [](const Tensor& a) { return Tensor{lmn::log(a.var)}; })
      .def("softmax", [](const Tensor& a) { return Tensor{lmn::softmax(a.var)}; })
      .def("log_softmax", [](const Tensor& a) { return Tensor{lmn::log_softmax(a.var)}; })
      .def("sum", [](const Tensor& a) { return Tensor{lmn::sum(a.var)}; })
      .def("mean", [](const Tensor& a) { return Tensor{lmn::mean(a.var)}; })
      .def("__repr__", [](const Tensor& t) {
        return "Tensor(shape=" + t.var->value.shape_str() + (t.var->requires_grad ? ", requires_grad=True)" : ")");
      });

  m.def(
      "mse_loss",
      [](const Tensor& p, const py::object& target) {
        return Tensor{lmn::mse_loss(p.var, to_matrix(target, "target"))};
      },
      py::arg("prediction"), py::arg("target"));
  m.def(
      "bce_loss",
      [](const Tensor& p, const py::object& target) {
        return Tensor{lmn::bce_loss(p.var, to_matrix(target, "target"))};
      },
      py::arg("probability"), py::arg("target"));
  m.def(
      "bce_with_logits_loss",
      [](const Tensor& z, const py::object& target) {
        return Tensor{lmn::bce_with_logits_loss(z.var, to_matrix(target, "target"))};
      },
      py::arg("logits"), py::arg("target"));
  m.def(
      "cross_entropy_loss",
      [](const Tensor& z, const std::vector<int>& targets) { return Tensor{lmn::cross_entropy_loss(z.var, targets)}; },
      py::arg("logits"), py::arg("targets"), "Mean cross-entropy over rows; a target of -1 is ignored.");

  py::class_<NoGrad>(m, "no_grad", "Context manager: operations inside build no graph.")
      .def(py::init<>())
      .def("__enter__", &NoGrad::enter)
      .def("__exit__", &NoGrad::exit);
}
