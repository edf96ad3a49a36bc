// Slicing and concatenation: ops that move values around.
#include <algorithm>
#include <string>

#include "ops/ops.hpp"

namespace lmn {

namespace {
void require_range(int start, int count, int limit, const char* op, const Matrix& x) {
  if (start < 0 || count < 0 || start + count > limit) {
    throw ShapeError(std::string(op) + ": range [" + std::to_string(start) + ", " + std::to_string(start + count) +
                     ") outside " + x.shape_str());
  }
}
}  // namespace

Var slice_cols(const Var& x, int start, int count) {
  const Matrix& in = x->value;
  require_range(start, count, in.cols(), "slice_cols", in);
  Matrix out(in.rows(), count);
  for (int r = 0; r < in.rows(); ++r) std::copy_n(in.row(r) + start, count, out.row(r));
  return make_op(std::move(out), {x}, "slice_cols", [start, count](Node& self) {
    Node& p = *self.parents[0];
    if (!p.requires_grad) return;
    Matrix& g = p.grad_buffer();
    for (int r = 0; r < g.rows(); ++r)
      for (int c = 0; c < count; ++c) g(r, start + c) += self.grad(r, c);
  });
}

Var slice_rows(const Var& x, int start, int count) {
  const Matrix& in = x->value;
  require_range(start, count, in.rows(), "slice_rows", in);
  Matrix out(count, in.cols(), in.row(start));
  return make_op(std::move(out), {x}, "slice_rows", [start, count](Node& self) {
    Node& p = *self.parents[0];
    if (!p.requires_grad) return;
    Matrix& g = p.grad_buffer();
    for (int r = 0; r < count; ++r)
      for (int c = 0; c < g.cols(); ++c) g(start + r, c) += self.grad(r, c);
  });
}

Var gather_rows(const Var& x, const std::vector<int>& rows) {
  const Matrix& in = x->value;
  Matrix out(static_cast<int>(rows.size()), in.cols(), Matrix::kUninitialized);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= in.rows()) {
      throw ShapeError("gather_rows: row " + std::to_string(rows[i]) + " at position " + std::to_string(i) +
                       " is outside " + in.shape_str());
    }
    std::copy_n(in.row(rows[i]), in.cols(), out.row(static_cast<int>(i)));
  }
  return make_op(std::move(out), {x}, "gather_rows", [rows](Node& self) {
    Node& p = *self.parents[0];
    if (p.requires_grad) scatter_add_rows(self.grad, rows, p.grad_buffer());
  });
}

Var concat_cols(const std::vector<Var>& parts) {
  if (parts.empty()) throw ShapeError("concat_cols: nothing to concatenate");
  const int rows = parts[0]->value.rows();
  int cols = 0;
  for (const auto& p : parts) {
    if (p->value.rows() != rows) {
      throw ShapeError("concat_cols: row counts differ: " + parts[0]->value.shape_str() + " and " +
                       p->value.shape_str());
    }
    cols += p->value.cols();
  }
  Matrix out(rows, cols);
  int offset = 0;
  for (const auto& p : parts) {
    for (int r = 0; r < rows; ++r) std::copy_n(p->value.row(r), p->value.cols(), out.row(r) + offset);
    offset += p->value.cols();
  }
  return make_op(std::move(out), parts, "concat_cols", [](Node& self) {
    int offset = 0;
    for (auto& p : self.parents) {
      const int w = p->value.cols();
      if (p->requires_grad) {
        Matrix& g = p->grad_buffer();
        for (int r = 0; r < g.rows(); ++r)
          for (int c = 0; c < w; ++c) g(r, c) += self.grad(r, offset + c);
      }
      offset += w;
    }
  });
}

Var concat_rows(const std::vector<Var>& parts) {
  if (parts.empty()) throw ShapeError("concat_rows: nothing to concatenate");
  const int cols = parts[0]->value.cols();
  int rows = 0;
  for (const auto& p : parts) {
    if (p->value.cols() != cols) {
      throw ShapeError("concat_rows: column counts differ: " + parts[0]->value.shape_str() + " and " +
                       p->value.shape_str());
    }
    rows += p->value.rows();
  }
  Matrix out(rows, cols);
  int offset = 0;
  for (const auto& p : parts) {
    std::copy_n(p->value.data(), p->value.size(), out.row(offset));
    offset += p->value.rows();
  }
  return make_op(std::move(out), parts, "concat_rows", [](Node& self) {
    int offset = 0;
    for (auto& p : self.parents) {
      const int h = p->value.rows();
      if (p->requires_grad) {
        Matrix& g = p->grad_buffer();
        const float* src = self.grad.row(offset);
        for (std::size_t i = 0; i < g.size(); ++i) g[i] += src[i];
      }
      offset += h;
    }
  });
}

}  // namespace lmn
