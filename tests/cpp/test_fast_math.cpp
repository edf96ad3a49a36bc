// The fused kernels' exp/sigmoid/tanh against libm over the whole range.
#include "base/fast_math.hpp"
#include "check.hpp"

TEST(exp_is_within_a_few_ulp) {
  double worst = 0.0;
  for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(lmn::fast::exp(x) - want) / want);
  }
  CHECK(worst < 3e-7);
  CHECK(lmn::fast::exp(-1000.0f) >= 0.0f && lmn::fast::exp(-1000.0f) < 1e-37f);
  CHECK(std::isfinite(lmn::fast::exp(1000.0f)));
}

TEST(sigmoid_and_tanh_are_accurate_and_saturate) {
  double worst_sigmoid = 0.0, worst_tanh = 0.0;
  for (float x = -30.0f; x <= 30.0f; x += 0.00137f) {
    worst_sigmoid = std::max(worst_sigmoid, std::fabs(lmn::fast::sigmoid(x) - 1.0 / (1.0 + std::exp(-double(x)))));
    worst_tanh = std::max(worst_tanh, std::fabs(lmn::fast::tanh(x) - std::tanh(double(x))));
  }
  CHECK(worst_sigmoid < 1e-7);
  CHECK(worst_tanh < 2.5e-7);
  CHECK(lmn::fast::sigmoid(-200.0f) == 0.0f || lmn::fast::sigmoid(-200.0f) < 1e-37f);
  CHECK(lmn::fast::sigmoid(200.0f) == 1.0f);
  CHECK(lmn::fast::tanh(200.0f) == 1.0f && lmn::fast::tanh(-200.0f) == -1.0f);
}

TEST_MAIN()
