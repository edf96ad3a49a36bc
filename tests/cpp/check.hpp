#pragma once
// A tiny test harness: TEST(name) registers a case, CHECK* record failures
// with file and line, main() runs every case and returns non-zero on any
// failure. Kept in-tree so the tests need nothing downloaded.
#include <cmath>
#include <exception>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

namespace check {

struct Case {
  std::string name;
  std::function<void()> body;
};
inline std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
inline int& failures() {
  static int n = 0;
  return n;
}
struct Register {
  Register(const char* name, std::function<void()> body) { cases().push_back({name, std::move(body)}); }
};
inline void fail(const char* file, int line, const std::string& what) {
  ++failures();
  std::cerr << file << ":" << line << ": FAILED: " << what << "\n";
}

inline int run_all() {
  int failed_cases = 0;
  for (const auto& c : cases()) {
    const int before = failures();
    try {
      c.body();
    } catch (const std::exception& e) {
      fail(c.name.c_str(), 0, std::string("unexpected exception: ") + e.what());
    }
    const bool ok = failures() == before;
    failed_cases += !ok;
    std::cout << (ok ? "[ ok ] " : "[FAIL] ") << c.name << "\n";
  }
  std::cout << cases().size() - failed_cases << " passed, " << failed_cases << " failed\n";
  return failed_cases == 0 ? 0 : 1;
}

}  // namespace check

#define TEST(name)                                         \
  static void name();                                      \
  static check::Register name##_registration(#name, name); \
  static void name()

#define CHECK(cond)                                      \
  do {                                                   \
    if (!(cond)) check::fail(__FILE__, __LINE__, #cond); \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                                 \
  do {                                                                                                        \
    const double check_a = (a), check_b = (b);                                                                \
    if (!(std::fabs(check_a - check_b) <= (tol)))                                                             \
      check::fail(__FILE__, __LINE__,                                                                         \
                  std::string(#a " = ") + std::to_string(check_a) + ", " #b " = " + std::to_string(check_b)); \
  } while (0)

// Passes only if `expr` throws E whose message contains `fragment`.
#define CHECK_THROWS(E, expr, fragment)                                                                      \
  do {                                                                                                       \
    bool check_thrown = false;                                                                               \
    try {                                                                                                    \
      (void)(expr);                                                                                          \
    } catch (const E& e) {                                                                                   \
      check_thrown = true;                                                                                   \
      if (std::string(e.what()).find(fragment) == std::string::npos)                                         \
        check::fail(__FILE__, __LINE__, std::string("message '") + e.what() + "' lacks '" + fragment + "'"); \
    }                                                                                                        \
    if (!check_thrown) check::fail(__FILE__, __LINE__, #expr " did not throw " #E);                          \
  } while (0)

#define TEST_MAIN() \
  int main() { return check::run_all(); }
