// ossl: a thin RAII C++20 wrapper over OpenSSL 3's TLS objects. Includes every public
// header of the library; not the test PKI (<ossl/testing/certs.hpp>), which is for tests.
#pragma once

#include <ossl/alpn.hpp>
#include <ossl/bio.hpp>
#include <ossl/builder.hpp>
#include <ossl/context.hpp>
#include <ossl/crl.hpp>
#include <ossl/early_data.hpp>
#include <ossl/engine.hpp>
#include <ossl/error.hpp>
#include <ossl/io.hpp>
#include <ossl/keylog.hpp>
#include <ossl/ocsp.hpp>
#include <ossl/pkcs12.hpp>
#include <ossl/pkey.hpp>
#include <ossl/reload.hpp>
#include <ossl/result.hpp>
#include <ossl/session.hpp>
#include <ossl/session_cache.hpp>
#include <ossl/session_store.hpp>
#include <ossl/sni.hpp>
#include <ossl/ticket_keys.hpp>
#include <ossl/ssl.hpp>
#include <ossl/tls.hpp>
#include <ossl/verify.hpp>
#include <ossl/version.hpp>
#include <ossl/x509.hpp>
