#include "autodiff/node.hpp"

#include <unordered_set>
#include <utility>

#include "tensor/gemm.hpp"
#include "tensor/matrix_math.hpp"

namespace lmn {

namespace {
thread_local bool g_grad_enabled = true;
}

Node::~Node() {
  // Take over parents that only we keep alive, and free them from a loop.
  std::vector<Var> pending = std::move(parents);
  while (!pending.empty()) {
    Var node = std::move(pending.back());
    pending.pop_back();
    if (node && node.use_count() == 1) {
      for (auto& p : node->parents) pending.push_back(std::move(p));
      node->parents.clear();
      node->backward_fn = nullptr;  // closures may hold Vars too
    }
  }
}

Matrix& Node::grad_buffer() {
  if (!grad.same_shape(value) || grad.empty()) grad = Matrix(value.rows(), value.cols());
  return grad;
}

Matrix& Node::grad_to_overwrite() {
  if (!grad.empty()) throw std::logic_error("grad_to_overwrite: " + op + " already holds a gradient");
  grad = Matrix(value.rows(), value.cols(), Matrix::kUninitialized);
  return grad;
}

Var make_leaf(Matrix value, bool requires_grad, std::string name) {
  auto node = std::make_shared<Node>();
  node->value = std::move(value);
  node->requires_grad = requires_grad;
  node->op = std::move(name);
  return node;
}

Var make_op(Matrix value, std::vector<Var> parents, std::string op, BackwardFn backward_fn) {
  auto node = std::make_shared<Node>();
  node->value = std::move(value);
  node->op = std::move(op);
  bool track = false;
  if (g_grad_enabled) {
    for (const auto& p : parents) track = track || (p && p->requires_grad);
  }
  if (track) {
    node->requires_grad = true;
    node->parents = std::move(parents);
    node->backward_fn = std::move(backward_fn);
  }
  return node;
}

void backward(const Var& root) {
  if (!root) throw std::invalid_argument("backward: null node");
  if (root->value.rows() != 1 || root->value.cols() != 1) {
    throw ShapeError("backward: root must be a scalar (1, 1), got " + root->value.shape_str() +
                     "; give the gradient with respect to a non-scalar root (Python: backward(gradient))");
  }
  backward(root, Matrix(1, 1, 1.0f));
}

void backward(const Var& root, const Matrix& seed) {
  if (!root) throw std::invalid_argument("backward: null node");
  require_same_shape(root->value, seed, "backward seed");
  if (!root->requires_grad) {
    throw std::invalid_argument("backward: '" + root->op + "' does not require grad (no parameter feeds it)");
  }

  // Iterative post-order DFS: parents finish before children, so reversing
  // the order visits every node after all of its consumers.
  std::vector<Node*> order;
  std::unordered_set<Node*> seen;
  std::vector<std::pair<Node*, std::size_t>> stack;
  stack.emplace_back(root.get(), 0);
  seen.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->parents.size()) {
      Node* parent = node->parents[next++].get();
      if (parent && parent->requires_grad && seen.insert(parent).second) stack.emplace_back(parent, 0);
    } else {
      order.push_back(node);
      stack.pop_back();
    }
  }

  axpy(root->grad_buffer(), 1.0f, seed);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* node = *it;
    if (node->backward_fn && !node->grad.empty()) node->backward_fn(*node);
  }
  // Release the graph: interior nodes drop parents, closures and gradients;
  // leaves keep their accumulated gradients.
  for (Node* node : order) {
    if (!node->is_leaf()) {
      node->backward_fn = nullptr;
      node->parents.clear();
      if (node != root.get()) node->grad = Matrix();
    }
  }
}

Var detach(const Var& v) {
  if (!v) throw std::invalid_argument("detach: null node");
  return make_leaf(v->value, false, "detach");
}

bool grad_enabled() { return g_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

void zero_grads(const std::vector<Var>& params) {
  for (const auto& p : params) p->zero_grad();
}

namespace {
// g can become p's gradient as it is: nothing has arrived there yet (a
// wrong shape goes on to axpy, which names it).
bool first_gradient(const Node& p, const Matrix& g) { return p.grad.empty() && g.same_shape(p.value); }
}  // namespace

void accumulate_grad(Node& p, const Matrix& g) {
  if (!p.requires_grad) return;
  if (first_gradient(p, g)) {
    p.grad = g;
  } else {
    axpy(p.grad_buffer(), 1.0f, g);
  }
}

void accumulate_grad(Node& p, Matrix&& g) {
  if (!p.requires_grad) return;
  if (first_gradient(p, g)) {
    p.grad = std::move(g);
  } else {
    axpy(p.grad_buffer(), 1.0f, g);
  }
}

void accumulate_product(Node& p, const Matrix& a, bool trans_a, const Matrix& b, bool trans_b) {
  if (!p.requires_grad) return;
  if (p.grad.empty()) return accumulate_grad(p, lmn::matmul(a, b, trans_a, trans_b));
  matmul_into(p.grad_buffer(), a, b, trans_a, trans_b, 1.0f, 1.0f);
}

}  // namespace lmn
