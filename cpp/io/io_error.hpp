#pragma once
#include <stdexcept>
#include <string>

namespace lmn {

// A file could not be read or written (maps to OSError, or the subclass
// its errno names, e.g. IsADirectoryError).
class IoError : public std::runtime_error {
 public:
  explicit IoError(const std::string& what, int error_number = 0)
      : std::runtime_error(what), error_number_(error_number) {}
  int error_number() const { return error_number_; }

 private:
  int error_number_;
};

}  // namespace lmn
