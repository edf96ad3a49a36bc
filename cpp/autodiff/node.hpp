#pragma once
// Reverse-mode autodiff on shared_ptr<Node>. A Node holds a value, its
// gradient, the parents it was computed from and a closure that pushes its
// gradient into theirs. `backward` orders the graph once, runs each closure
// once (so fan-out accumulates instead of recomputing), then releases it.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/matrix.hpp"

namespace lmn {

struct Node;
using Var = std::shared_ptr<Node>;
using BackwardFn = std::function<void(Node& self)>;

struct Node {
  Matrix value;
  Matrix grad;  // empty until something flows into it
  bool requires_grad = false;
  std::vector<Var> parents;
  BackwardFn backward_fn;  // reads self.grad, adds into parents' grads
  std::string op;          // for messages and debugging

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Tears long chains down iteratively so dropping a 10^6-step graph cannot
  // overflow the stack through nested shared_ptr destructors.
  ~Node();

  bool is_leaf() const { return !backward_fn; }
  // The gradient buffer, allocated as zeros of value's shape on first use.
  Matrix& grad_buffer();
  // For a backward pass that writes the whole gradient itself when none has
  // arrived yet (grad empty): the buffer, not zeroed.
  Matrix& grad_to_overwrite();
  void zero_grad() { grad = Matrix(); }
};

// Adds g into p's gradient when p takes part in differentiation. The first
// gradient to arrive is copied (or moved) in: no zeros written, then added to.
void accumulate_grad(Node& p, const Matrix& g);
void accumulate_grad(Node& p, Matrix&& g);
// Adds op(a) op(b) into p's gradient; the first such gradient is the product
// itself (written by the GEMM, beta 0).
void accumulate_product(Node& p, const Matrix& a, bool trans_a, const Matrix& b, bool trans_b);

// A leaf: a parameter (requires_grad) or a constant input.
Var make_leaf(Matrix value, bool requires_grad = false, std::string name = "leaf");

// An op result. It tracks gradients only when grad mode is on and some
// parent requires them; otherwise parents and closure are dropped at once.
Var make_op(Matrix value, std::vector<Var> parents, std::string op, BackwardFn backward_fn);

// Seeds d(root)/d(root) = 1 (root must be 1x1) or the given gradient, then
// propagates to every node that requires grad. The graph is released after.
void backward(const Var& root);
void backward(const Var& root, const Matrix& seed);

// The same value, cut from the graph.
Var detach(const Var& v);

// Grad mode is per thread; NoGradGuard turns it off for a scope.
bool grad_enabled();
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

void zero_grads(const std::vector<Var>& params);

}  // namespace lmn
