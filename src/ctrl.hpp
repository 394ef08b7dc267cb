// Private to src/: OpenSSL's macro APIs as named functions. Each SSL_CTX_xxx / SSL_xxx
// macro below expands to SSL_CTX_ctrl / SSL_ctrl (or the callback_ctrl variants) with
// an SSL_CTRL_* code; ossl calls them through these, one function per macro, so every
// call site names what it does and the cast of each argument is written once. Return
// values are OpenSSL's, unchanged (the callers check them through detail/check.hpp).
#pragma once

#include <openssl/ssl.h>

namespace ossl::detail {

// ------------------------------------------------------------------ SSL_CTX

/// SSL_CTX_set_min_proto_version: 1 on success.
inline long ctx_set_min_proto_version(SSL_CTX* ctx, long version) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, version, nullptr);
}
/// SSL_CTX_set_max_proto_version: 1 on success.
inline long ctx_set_max_proto_version(SSL_CTX* ctx, long version) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_PROTO_VERSION, version, nullptr);
}
/// SSL_CTX_get_min_proto_version: the version, 0 when unlimited.
inline long ctx_get_min_proto_version(SSL_CTX* ctx) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nullptr);
}
/// SSL_CTX_get_max_proto_version: the version, 0 when unlimited.
inline long ctx_get_max_proto_version(SSL_CTX* ctx) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_GET_MAX_PROTO_VERSION, 0, nullptr);
}
/// SSL_CTX_set1_groups_list: 1 on success; `list` is copied.
inline long ctx_set1_groups_list(SSL_CTX* ctx, const char* list) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_GROUPS_LIST, 0, const_cast<char*>(list));
}
/// SSL_CTX_add1_chain_cert (larg 1: the context takes its own reference).
inline long ctx_add1_chain_cert(SSL_CTX* ctx, ::X509* cert) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1, cert);
}
/// SSL_CTX_clear_chain_certs: drops the chain certificates (SSL_CTX_set0_chain(ctx, NULL)).
inline long ctx_clear_chain_certs(SSL_CTX* ctx) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN, 0, nullptr);
}
/// SSL_CTX_get0_chain_certs: *chain is the context's own stack (get0), or null.
inline long ctx_get0_chain_certs(SSL_CTX* ctx, STACK_OF(X509) * *chain) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_GET_CHAIN_CERTS, 0, chain);
}
/// SSL_CTX_set_session_cache_mode: returns the previous mode.
inline long ctx_set_session_cache_mode(SSL_CTX* ctx, long mode) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_MODE, mode, nullptr);
}
/// SSL_CTX_get_session_cache_mode.
inline long ctx_get_session_cache_mode(SSL_CTX* ctx) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_GET_SESS_CACHE_MODE, 0, nullptr);
}
/// SSL_CTX_sess_set_cache_size: returns the previous size.
inline long ctx_sess_set_cache_size(SSL_CTX* ctx, long size) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SESS_CACHE_SIZE, size, nullptr);
}
/// SSL_CTX_sess_get_cache_size.
inline long ctx_sess_get_cache_size(SSL_CTX* ctx) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_GET_SESS_CACHE_SIZE, 0, nullptr);
}
/// SSL_CTX_set_mode: adds the bits, returns the new mode (0 adds nothing: a getter).
inline long ctx_set_mode(SSL_CTX* ctx, long bits) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_MODE, bits, nullptr);
}
/// SSL_CTX_set_max_send_fragment: 1 on success, 0 outside 512..16384 (no record).
inline long ctx_set_max_send_fragment(SSL_CTX* ctx, long bytes) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MAX_SEND_FRAGMENT, bytes, nullptr);
}
/// SSL_CTX_set_split_send_fragment: 1 on success.
inline long ctx_set_split_send_fragment(SSL_CTX* ctx, long bytes) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_SPLIT_SEND_FRAGMENT, bytes, nullptr);
}
/// SSL_CTX_set_dh_auto: with 1, DHE uses a group matching the certificate's strength
/// (ffdhe2048 for 2048-bit RSA). Returns 1.
inline long ctx_set_dh_auto(SSL_CTX* ctx, long on) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_DH_AUTO, on, nullptr);
}
/// SSL_CTX_set_tlsext_servername_callback + SSL_CTX_set_tlsext_servername_arg.
inline void ctx_set_servername_callback(SSL_CTX* ctx, int (*cb)(SSL*, int*, void*),
                                        void* arg) noexcept {
  // The callback goes through the generic void (*)() of callback_ctrl, as the macro does.
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_CB,
                        reinterpret_cast<void (*)()>(cb));  // NOLINT: C API cast
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_SERVERNAME_ARG, 0, arg);
}

/// SSL_CTX_set_tlsext_status_cb + SSL_CTX_set_tlsext_status_arg: the OCSP status
/// callback (server: asked for a staple when a client requested one; client: shown the
/// staple, or none, after the server's first flight).
inline void ctx_set_status_callback(SSL_CTX* ctx, int (*cb)(SSL*, void*), void* arg) noexcept {
  SSL_CTX_callback_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB,
                        reinterpret_cast<void (*)()>(cb));  // NOLINT: C API cast
  SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB_ARG, 0, arg);
}
/// SSL_CTX_set_tlsext_status_type: 1 on success; TLSEXT_STATUSTYPE_ocsp makes clients
/// send status_request.
inline long ctx_set_status_type(SSL_CTX* ctx, int type) noexcept {
  return SSL_CTX_ctrl(ctx, SSL_CTRL_SET_TLSEXT_STATUS_REQ_TYPE, type, nullptr);
}

// ---------------------------------------------------------------------- SSL

/// SSL_set_tlsext_host_name: 1 on success; `name` is copied.
inline long ssl_set_tlsext_host_name(SSL* ssl, const char* name) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                  const_cast<char*>(name));
}
/// SSL_set_min_proto_version: 1 on success.
inline long ssl_set_min_proto_version(SSL* ssl, long version) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_MIN_PROTO_VERSION, version, nullptr);
}
/// SSL_set_max_proto_version: 1 on success.
inline long ssl_set_max_proto_version(SSL* ssl, long version) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_MAX_PROTO_VERSION, version, nullptr);
}
/// SSL_set_mode: adds the bits, returns the new mode.
inline long ssl_set_mode(SSL* ssl, long bits) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_MODE, bits, nullptr);
}
/// SSL_set_max_send_fragment: 1 on success, 0 outside 512..16384 (no record).
inline long ssl_set_max_send_fragment(SSL* ssl, long bytes) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_MAX_SEND_FRAGMENT, bytes, nullptr);
}
/// SSL_set_split_send_fragment: 1 on success.
inline long ssl_set_split_send_fragment(SSL* ssl, long bytes) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_SPLIT_SEND_FRAGMENT, bytes, nullptr);
}
/// SSL_get_negotiated_group: the group's NID (or TLSEXT id), 0 when none.
inline long ssl_get_negotiated_group(SSL* ssl) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_GET_NEGOTIATED_GROUP, 0, nullptr);
}
/// SSL_set1_chain: the connection takes its own copy of the stack and references.
inline long ssl_set1_chain(SSL* ssl, STACK_OF(X509) * chain) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_CHAIN, 1, chain);
}

/// SSL_get_min_proto_version: the version, 0 when unlimited.
inline long ssl_get_min_proto_version(SSL* ssl) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, nullptr);
}
/// SSL_get_max_proto_version: the version, 0 when unlimited.
inline long ssl_get_max_proto_version(SSL* ssl) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_GET_MAX_PROTO_VERSION, 0, nullptr);
}
/// SSL_get_tlsext_status_type: TLSEXT_STATUSTYPE_ocsp when the connection asks for a
/// stapled OCSP response, -1 (nothing) otherwise.
inline long ssl_get_status_type(SSL* ssl) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_GET_TLSEXT_STATUS_REQ_TYPE, 0, nullptr);
}
/// SSL_get_tlsext_status_ocsp_resp: the stapled response's length (*resp points into
/// the connection, get0), or -1 when the server stapled none.
inline long ssl_get_status_ocsp_resp(SSL* ssl, const unsigned char** resp) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_GET_TLSEXT_STATUS_REQ_OCSP_RESP, 0,
                  const_cast<unsigned char**>(resp));
}
/// SSL_set_tlsext_status_ocsp_resp: the connection takes `resp` (OPENSSL_malloc'd) and
/// frees it; 1 on success.
inline long ssl_set_status_ocsp_resp(SSL* ssl, unsigned char* resp, long len) noexcept {
  return SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_STATUS_REQ_OCSP_RESP, len, resp);
}

}  // namespace ossl::detail
