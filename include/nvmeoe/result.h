// Errors of the system and transport domain, the host library's result type: Status (an errno
// and a message) and Result<T> (a value or a Status). NVMe command outcomes never travel here:
// they are NVMe status values (nvmeoe/status.h). No exceptions on the data path.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace nvmeoe {

class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  // An error with an errno value (0 when no errno applies) and a human message.
  static Status error(std::string message, int err = EINVAL) { return Status(err ? err : EINVAL, std::move(message)); }
  static Status from_errno(int err, const std::string& context) {
    return Status(err ? err : EIO, context + ": " + std::strerror(err ? err : EIO));
  }
  bool is_ok() const { return err_ == 0; }
  explicit operator bool() const { return is_ok(); }
  int err() const { return err_; }
  const std::string& message() const { return message_; }

 private:
  Status(int err, std::string message) : err_(err), message_(std::move(message)) {}
  int err_ = 0;
  std::string message_;
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT
  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  const T& value() const& { return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  Status status() const { return is_ok() ? Status::ok() : std::get<1>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace nvmeoe
