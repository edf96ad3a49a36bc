#pragma once
// Maths on whole matrices: elementwise arithmetic, bias broadcasting,
// transpose, activations, row softmax and reductions. Every function checks
// shapes and throws ShapeError naming both. Products are in gemm.hpp.
#include <vector>

#include "tensor/matrix.hpp"

namespace lmn {

// Elementwise arithmetic (shapes must match).
Matrix add(const Matrix& a, const Matrix& b);
Matrix subtract(const Matrix& a, const Matrix& b);
Matrix hadamard(const Matrix& a, const Matrix& b);
Matrix scale(const Matrix& a, float s);
// a += s * b, in place.
void axpy(Matrix& a, float s, const Matrix& b);

// Row-vector broadcasting: x (N, C) + bias (1, C).
Matrix add_row_vector(const Matrix& x, const Matrix& bias);
// Column sums: (N, C) -> (1, C); the gradient of a broadcast bias.
Matrix sum_rows(const Matrix& x);

Matrix transpose(const Matrix& a);

// Activations, and derivatives written in terms of what is actually saved:
// sigmoid and tanh take their *output* y, relu takes its *input* x.
Matrix sigmoid(const Matrix& x);
Matrix tanh(const Matrix& x);
Matrix relu(const Matrix& x);
Matrix sigmoid_grad_from_output(const Matrix& y, const Matrix& dy);  // dy * y * (1 - y)
Matrix tanh_grad_from_output(const Matrix& y, const Matrix& dy);     // dy * (1 - y^2)
Matrix relu_grad_from_input(const Matrix& x, const Matrix& dy);      // dy * [x > 0]
float sigmoid(float x);

// Row-wise softmax and log-softmax, stable for large logits (rows split over
// threads for large inputs). softmax_rows can also hand back each row's max
// and log(sum of exp(z - max)), so callers can form a log-probability
// (z - max) - log_sum without a second pass of exps.
struct SoftmaxNorm {
  float max;
  float log_sum;
};
Matrix softmax_rows(const Matrix& x, std::vector<SoftmaxNorm>* norms = nullptr);
Matrix log_softmax_rows(const Matrix& x);

// Reductions.
float sum(const Matrix& a);
float mean(const Matrix& a);
float max_abs(const Matrix& a);
bool all_finite(const Matrix& a);

}  // namespace lmn
