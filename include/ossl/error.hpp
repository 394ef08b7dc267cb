// ossl: errors. ErrorStack drains OpenSSL's per-thread error queue into a value;
// Error is the exception that carries one (thrown only by Result::value()).
#pragma once

#include <ossl/detail/export.hpp>

#include <cstddef>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

namespace ossl {

/// One record of OpenSSL's error queue, copied out so it outlives the queue, or one
/// error detected by ossl itself (then `code` is 0 and `library` is "ossl").
struct OSSL_API ErrorRecord {
  unsigned long code = 0;  ///< Packed OpenSSL error code (ERR_get_error_all), 0 for ossl's own.
  std::string library;     ///< Library name, e.g. "SSL routines" (ERR_lib_error_string).
  std::string reason;      ///< Reason text, e.g. "no cipher match" (ERR_reason_error_string).
  std::string file;        ///< Source file that raised it, empty when unknown.
  int line = 0;            ///< Source line that raised it, 0 when unknown.
  std::string function;    ///< Function that raised it, empty when unknown.
  std::string data;        ///< Extra data OpenSSL attached (ERR_TXT_STRING), often empty.

  /// Returns the library number of `code` (ERR_GET_LIB), 0 for ossl's own records.
  [[nodiscard]] int lib() const noexcept;
  /// Returns the reason number of `code` (ERR_GET_REASON), 0 for ossl's own records.
  [[nodiscard]] int reason_code() const noexcept;
  /// Formats the record on one line: "library: reason (data) [function file:line]".
  [[nodiscard]] std::string to_string() const;
};

/// Every error record of one failed operation, oldest first, plus a context naming
/// the ossl call (or builder step) that failed; the value type of every Result.
///
/// `drain()` empties the calling thread's OpenSSL error queue into a new stack, so
/// no record of one call leaks into the next. Errors that ossl detects itself (an
/// embedded NUL, a null pointer to adopt, ...) are records too, made by `message()`.
class OSSL_API ErrorStack {
 public:
  /// Iterates the records, oldest first.
  using const_iterator = std::vector<ErrorRecord>::const_iterator;

  /// An empty stack (no records, no context): what success carries.
  ErrorStack() = default;

  /// Empties the calling thread's OpenSSL error queue into a new stack; the stack is
  /// empty when the queue was. Never fails. (ERR_get_error_all)
  [[nodiscard]] static ErrorStack drain();

  /// Makes a stack holding one ossl-detected error record with the given text, after
  /// draining whatever OpenSSL queued (those records come first).
  [[nodiscard]] static ErrorStack message(std::string text);

  /// Sets the context (the operation that failed), prefixing any context already set
  /// with "context: ". Returns the stack for chaining.
  ErrorStack& with_context(std::string_view context) &;
  /// Rvalue overload of with_context().
  ErrorStack&& with_context(std::string_view context) &&;

  /// Appends a record.
  void push(ErrorRecord record);

  /// Returns true when the stack holds no record.
  [[nodiscard]] bool empty() const noexcept { return records_.empty(); }
  /// Returns the number of records.
  [[nodiscard]] std::size_t size() const noexcept { return records_.size(); }
  /// Returns the context set by with_context(), empty when none was set.
  [[nodiscard]] const std::string& context() const noexcept { return context_; }
  /// Returns the records, oldest first.
  [[nodiscard]] const std::vector<ErrorRecord>& records() const noexcept { return records_; }
  /// Returns the first record, for range-for over the stack.
  [[nodiscard]] const_iterator begin() const noexcept { return records_.begin(); }
  /// Returns the end of the records.
  [[nodiscard]] const_iterator end() const noexcept { return records_.end(); }

  /// Returns true when a record has OpenSSL library `lib` and reason `reason`
  /// (ERR_LIB_* and *_R_* constants), e.g. (ERR_LIB_SSL, SSL_R_UNEXPECTED_EOF_WHILE_READING).
  [[nodiscard]] bool contains(int lib, int reason) const noexcept;

  /// Sets a one-line explanation a person understands (e.g. "the server supports only
  /// TLS versions older than TLS 1.2 ..."), shown ahead of the records by to_string();
  /// the records stay as they are. Returns the stack for chaining.
  ErrorStack& set_summary(std::string summary) &;
  /// Returns the explanation set by set_summary(), empty when none was.
  [[nodiscard]] const std::string& summary() const noexcept { return summary_; }
  /// Returns the headline of the error: the summary when there is one, else the last
  /// record's reason (with its data), else "no error".
  [[nodiscard]] std::string headline() const;
  /// Formats the context, the summary and every record: "context: rec1; rec2", or with a
  /// summary "context: summary (rec1; rec2)".
  [[nodiscard]] std::string to_string() const;

 private:
  std::string context_;
  std::string summary_;
  std::vector<ErrorRecord> records_;
};

/// Hook used by Result<T, E>::value() to turn an error value into an ErrorStack;
/// overloaded by ADL for other error types (see SslIoError).
[[nodiscard]] inline const ErrorStack& to_error_stack(const ErrorStack& e) noexcept {
  return e;
}

/// Exception thrown by Result::value() on an error; carries the ErrorStack and a
/// what() text formatted from it. ossl never throws from anywhere else.
class OSSL_API Error : public std::exception {
 public:
  /// Takes the stack and formats what() from it.
  explicit Error(ErrorStack stack);
  /// Returns the formatted error text (ErrorStack::to_string()).
  [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
  /// Returns the error stack that caused the throw.
  [[nodiscard]] const ErrorStack& stack() const noexcept { return stack_; }

 private:
  ErrorStack stack_;
  std::string what_;
};

namespace detail {
/// Throws Error(stack), or, in a build without exceptions, prints the error text to
/// stderr and aborts. Never returns.
[[noreturn]] OSSL_API void raise(const ErrorStack& stack);
}  // namespace detail

}  // namespace ossl
