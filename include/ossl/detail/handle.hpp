// ossl private machinery: one owning handle for every OpenSSL object type.
#pragma once

#include <ossl/result.hpp>

#include <string>
#include <utility>

namespace ossl::detail {

/// Per-type traits, specialised next to each wrapper: `static void free(T*) noexcept`
/// and, for reference-counted objects, `static void up_ref(T*) noexcept`.
template <class T>
struct HandleTraits;

/// True when the OpenSSL type T has an up-ref (copies then share the object).
template <class T>
concept UpRefable = requires(T* p) {
  HandleTraits<T>::up_ref(p);
};

/// Owns one reference to an OpenSSL object; frees it once. Copyable (by up-ref) only
/// for UpRefable types; moves leave a null handle. Never throws.
template <class T>
class Handle {
 public:
  /// A null handle.
  Handle() noexcept = default;
  /// Takes over the caller's reference to `p` (may be null).
  explicit Handle(T* p) noexcept : p_(p) {}
  /// Shares the object: takes a reference of its own (up_ref). UpRefable types only.
  Handle(const Handle& other) noexcept requires UpRefable<T> : p_(other.p_) {
    if (p_ != nullptr) HandleTraits<T>::up_ref(p_);
  }
  /// Shares `other`'s object and releases the one held before. UpRefable types only.
  Handle& operator=(const Handle& other) noexcept requires UpRefable<T> {
    if (this != &other) {
      Handle copy(other);  // up-ref first, then release the old object
      swap(copy);
    }
    return *this;
  }
  /// Takes `other`'s reference, leaving it null.
  Handle(Handle&& other) noexcept : p_(std::exchange(other.p_, nullptr)) {}
  /// Releases the object held before and takes `other`'s reference, leaving it null.
  Handle& operator=(Handle&& other) noexcept {
    Handle moved(std::move(other));
    swap(moved);
    return *this;
  }
  /// Releases the reference held, if any (HandleTraits<T>::free).
  ~Handle() {
    if (p_ != nullptr) HandleTraits<T>::free(p_);
  }

  /// Returns the raw pointer, still owned by this handle; null when empty.
  [[nodiscard]] T* get() const noexcept { return p_; }
  /// Gives up ownership: returns the raw pointer (the caller now frees it), leaves null.
  [[nodiscard]] T* release() noexcept { return std::exchange(p_, nullptr); }
  /// Exchanges the objects of two handles.
  void swap(Handle& other) noexcept { std::swap(p_, other.p_); }

 private:
  T* p_ = nullptr;
};

/// CRTP base giving a wrapper `Self` over raw `T` the ownership API of the API map:
/// native_handle(), release(), adopt(), share() (UpRefable only), operator bool.
/// `Self` declares `static constexpr const char* kName` and a private `Self(T*)`
/// constructor, and befriends this base.
template <class Self, class T>
class Owner {
 public:
  /// Returns the raw pointer without giving up ownership; null for a moved-from object.
  [[nodiscard]] T* native_handle() const noexcept { return h_.get(); }

  /// Gives up ownership: returns the raw pointer (the caller now frees it) and leaves
  /// this object empty.
  [[nodiscard]] T* release() noexcept { return h_.release(); }

  /// Returns true unless the object is empty (moved from or released).
  explicit operator bool() const noexcept { return h_.get() != nullptr; }

  /// Takes over the caller's reference to `p`; the caller must not free it. Returns an
  /// error naming the type for a null pointer. Types that set something on the objects
  /// they take over (Ssl: SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER) do it here.
  [[nodiscard]] static Result<Self> adopt(T* p) {
    if (p == nullptr) return null_error("adopt");
    taken_over(p);
    return Self(p);
  }

  /// Adds a reference of its own to `p` (the caller still frees its own). Returns an
  /// error naming the type for a null pointer. Reference-counted types only. As adopt(),
  /// sets what the type sets on the objects it takes over.
  [[nodiscard]] static Result<Self> share(T* p) requires UpRefable<T> {
    if (p == nullptr) return null_error("share");
    HandleTraits<T>::up_ref(p);
    taken_over(p);
    return Self(p);
  }

 protected:
  /// An empty object.
  Owner() noexcept = default;
  /// Takes over the caller's reference to `p`.
  explicit Owner(T* p) noexcept : h_(p) {}

  /// The error a method returns when called on an empty (moved-from or released)
  /// object, naming the method: "Ssl::read: empty Ssl (moved from or released)".
  [[nodiscard]] static ErrorStack empty_error(const char* fn) {
    return ErrorStack::message(std::string(Self::kName) + "::" + fn + ": empty " + Self::kName +
                               " (moved from or released)");
  }

  /// The owned reference.
  Handle<T> h_;

 private:
  // Calls Self::on_take_over(p) when Self declares one (a friend of this base sees it).
  static void taken_over(T* p) noexcept {
    if constexpr (requires { Self::on_take_over(p); }) Self::on_take_over(p);
  }

  static ErrorStack null_error(const char* fn) {
    return ErrorStack::message(std::string(Self::kName) + "::" + fn + ": null pointer");
  }
};

}  // namespace ossl::detail
