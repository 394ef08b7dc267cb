#include <ossl/error.hpp>
#include <ossl/detail/check.hpp>

#include "internal.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <source_location>
#include <string_view>

namespace ossl {

int ErrorRecord::lib() const noexcept {
  return code == 0 ? 0 : ERR_GET_LIB(code);
}

int ErrorRecord::reason_code() const noexcept {
  return code == 0 ? 0 : ERR_GET_REASON(code);
}

std::string ErrorRecord::to_string() const {
  std::string out = library.empty() ? std::string("ossl") : library;
  out += ": ";
  out += reason;
  if (!data.empty()) {
    out += " (";
    out += data;
    out += ')';
  }
  if (!function.empty() || !file.empty()) {
    out += " [";
    out += function;
    if (!file.empty()) {
      if (!function.empty()) out += ' ';
      out += file;
      out += ':';
      out += std::to_string(line);
    }
    out += ']';
  }
  return out;
}

ErrorStack ErrorStack::drain() {
  // libssl registers its reason strings only when libssl is initialised; without
  // this, an error raised before the first SSL_CTX_new would print as "reason(185)".
  // Runs once per process (OpenSSL's own run-once), and only on the error path.
  static const bool strings_loaded =
      OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, nullptr) ==
      1;
  (void)strings_loaded;
  ErrorStack stack;
  for (;;) {
    const char* file = nullptr;
    const char* func = nullptr;
    const char* data = nullptr;
    int line = 0;
    int flags = 0;
    // The strings stay valid until the next error is raised on this thread; they are
    // copied at once.
    unsigned long code = ERR_get_error_all(&file, &line, &func, &data, &flags);
    if (code == 0) break;
    ErrorRecord rec;
    rec.code = code;
    if (const char* lib = ERR_lib_error_string(code)) rec.library = lib;
    if (ERR_GET_LIB(code) == ERR_LIB_USER && data != nullptr && (flags & ERR_TXT_STRING) != 0) {
      // Raised by ossl itself from inside an OpenSSL callback: the text is the reason.
      rec.library = "ossl";
      rec.reason = data;
      data = nullptr;
    } else if (const char* reason = ERR_reason_error_string(code)) {
      rec.reason = reason;
    } else if (ERR_SYSTEM_ERROR(code)) {
      rec.library = "system";
      rec.reason = std::strerror(ERR_GET_REASON(code));
    } else {
      rec.reason = "reason(" + std::to_string(ERR_GET_REASON(code)) + ")";
    }
    if (file != nullptr) rec.file = file;
    rec.line = line;
    if (func != nullptr) rec.function = func;
    if (data != nullptr && (flags & ERR_TXT_STRING) != 0) rec.data = data;
    stack.records_.push_back(std::move(rec));
  }
  return stack;
}

ErrorStack ErrorStack::message(std::string text) {
  ErrorStack stack = drain();
  ErrorRecord rec;
  rec.library = "ossl";
  rec.reason = std::move(text);
  stack.records_.push_back(std::move(rec));
  return stack;
}

ErrorStack& ErrorStack::with_context(std::string_view context) & {
  if (context_.empty()) {
    context_ = context;
  } else {
    context_ = std::string(context) + ": " + context_;
  }
  return *this;
}

ErrorStack&& ErrorStack::with_context(std::string_view context) && {
  with_context(context);
  return std::move(*this);
}

void ErrorStack::push(ErrorRecord record) {
  records_.push_back(std::move(record));
}

bool ErrorStack::contains(int lib, int reason) const noexcept {
  for (const auto& r : records_) {
    if (r.code != 0 && r.lib() == lib && r.reason_code() == reason) return true;
  }
  return false;
}

std::string ErrorStack::to_string() const {
  std::string records;
  for (std::size_t i = 0; i < records_.size(); ++i) {
    if (i != 0) records += "; ";
    records += records_[i].to_string();
  }
  std::string body = summary_.empty()  ? records
                     : records.empty() ? summary_
                                       : summary_ + " (" + records + ")";
  if (context_.empty()) return body.empty() ? "no error" : body;
  return body.empty() ? context_ : context_ + ": " + body;
}

ErrorStack& ErrorStack::set_summary(std::string summary) & {
  summary_ = std::move(summary);
  return *this;
}

std::string ErrorStack::headline() const {
  if (!summary_.empty()) return summary_;
  if (records_.empty()) return "no error";
  const ErrorRecord& last = records_.back();
  return last.data.empty() ? last.reason : last.reason + " (" + last.data + ")";
}

Error::Error(ErrorStack stack) : stack_(std::move(stack)), what_(stack_.to_string()) {}

namespace detail {

const char* project_path(const char* file) noexcept {
  const std::string_view path(file);
  if (path.starts_with("src/") || path.starts_with("include/")) return file;
  for (std::string_view root : {"/src/", "/include/"}) {
    if (const std::size_t at = path.rfind(root); at != std::string_view::npos) {
      return file + at + 1;
    }
  }
  return file;
}

void raise_error(int lib, int reason, const char* function, const char* text,
                 std::source_location where) noexcept {
  ERR_new();
  ERR_set_debug(project_path(where.file_name()), static_cast<int>(where.line()), function);
  if (text != nullptr) {
    ERR_set_error(lib, reason, "%s", text);
  } else {
    ERR_set_error(lib, reason, nullptr);
  }
}

[[noreturn]] void raise(const ErrorStack& stack) {
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS)
  throw Error(stack);
#else
  std::fprintf(stderr, "ossl: Result::value() on an error: %s\n", stack.to_string().c_str());
  std::abort();
#endif
}

ErrorStack failure(std::string_view what) {
  ErrorStack stack = ErrorStack::drain();
  if (stack.empty()) {
    ErrorRecord rec;
    rec.library = "ossl";
    rec.reason = "the call failed without an OpenSSL error record";
    stack.push(std::move(rec));
  }
  return std::move(stack).with_context(what);
}

}  // namespace detail
}  // namespace ossl
