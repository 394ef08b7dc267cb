// ossl: Result<T, E>, the return type of every fallible call, with the member
// names of std::expected so that code can move to it later unchanged.
#pragma once

#include <ossl/error.hpp>

#include <type_traits>
#include <utility>
#include <variant>

namespace ossl {

/// Holds either a value of type T or an error of type E (default ErrorStack).
///
/// Member names follow std::expected: has_value(), operator bool, operator*,
/// operator->, value() (throws Error holding the error; aborts with its text when
/// built without exceptions), error(), value_or(). Dereferencing an error is
/// undefined, as with std::expected; value() is the checked access.
template <class T, class E = ErrorStack>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, E>, "Result<T, E> needs T != E");
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");

 public:
  /// The type of the value held on success.
  using value_type = T;
  /// The type of the error held on failure.
  using error_type = E;

  ///@{
  /// Holds a value (implicit, so a function returning Result<T> can `return value;`).
  Result(const T& value) : v_(std::in_place_index<0>, value) {}        // NOLINT: implicit by design
  Result(T&& value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  ///@}
  ///@{
  /// Holds an error (implicit, so a function returning Result<T> can `return error;`).
  Result(const E& error) : v_(std::in_place_index<1>, error) {}        // NOLINT
  Result(E&& error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  ///@}

  /// Returns true when a value is held, false when an error is.
  [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
  /// Returns has_value().
  explicit operator bool() const noexcept { return has_value(); }

  ///@{
  /// Returns the value, unchecked: undefined when an error is held (as std::expected).
  T& operator*() & noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const& noexcept { return *std::get_if<0>(&v_); }
  T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
  ///@}
  ///@{
  /// Returns a pointer to the value, unchecked: undefined when an error is held.
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }
  ///@}

  ///@{
  /// Returns the value; on an error throws Error (see class comment).
  T& value() & {
    check();
    return **this;
  }
  const T& value() const& {
    check();
    return **this;
  }
  T&& value() && {
    check();
    return std::move(**this);
  }
  ///@}

  ///@{
  /// Returns the error. Undefined when has_value() (as std::expected::error()).
  E& error() & noexcept { return *std::get_if<1>(&v_); }
  const E& error() const& noexcept { return *std::get_if<1>(&v_); }
  E&& error() && noexcept { return std::move(*std::get_if<1>(&v_)); }
  ///@}

  ///@{
  /// Returns the value, or `fallback` converted to T on an error (`value_or({})` gives
  /// a default-constructed T).
  template <class U = T>
  T value_or(U&& fallback) const& {
    return has_value() ? **this : static_cast<T>(std::forward<U>(fallback));
  }
  template <class U = T>
  T value_or(U&& fallback) && {
    return has_value() ? std::move(**this) : static_cast<T>(std::forward<U>(fallback));
  }
  ///@}

 private:
  void check() const {
    if (!has_value()) detail::raise(to_error_stack(error()));
  }
  std::variant<T, E> v_;
};

/// Result<void, E>: success carries nothing. Default-constructed means success.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  /// void: success carries no value.
  using value_type = void;
  /// The type of the error held on failure.
  using error_type = E;

  /// Success.
  Result() noexcept = default;
  ///@{
  /// Holds an error (implicit, so a function returning Result<void> can `return error;`).
  Result(const E& error) : error_(error), failed_(true) {}        // NOLINT
  Result(E&& error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  ///@}

  /// Returns true on success, false when an error is held.
  [[nodiscard]] bool has_value() const noexcept { return !failed_; }
  /// Returns has_value().
  explicit operator bool() const noexcept { return has_value(); }
  /// Does nothing (as std::expected<void, E>::operator*).
  void operator*() const noexcept {}

  /// Returns on success; on an error throws Error (see Result<T, E>).
  void value() const {
    if (failed_) detail::raise(to_error_stack(error_));
  }
  ///@{
  /// Returns the error; an empty E on success.
  E& error() & noexcept { return error_; }
  const E& error() const& noexcept { return error_; }
  E&& error() && noexcept { return std::move(error_); }
  ///@}

 private:
  // An empty E (ErrorStack, SslIoError) costs no allocation, so success stays cheap.
  E error_{};
  bool failed_ = false;
};

}  // namespace ossl
