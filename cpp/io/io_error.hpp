#pragma once
#include <stdexcept>
#include <string>
#include <utility>

namespace lmn {

// A file could not be read or written (maps to OSError, or the subclass
// its errno names, e.g. IsADirectoryError). `reason` is the message without
// the file: "Permission denied", for callers that name the file their way.
class IoError : public std::runtime_error {
 public:
  explicit IoError(const std::string& what, int error_number = 0, std::string reason = "")
      : std::runtime_error(what), error_number_(error_number), reason_(std::move(reason)) {}
  int error_number() const { return error_number_; }
  const std::string& reason() const { return reason_; }

 private:
  int error_number_;
  std::string reason_;
};

}  // namespace lmn
