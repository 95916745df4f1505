// Debian's OpenSSL libcrypto (libssl-dev) as Swift sees it: HMAC, random bytes and constant-time comparison.
#ifndef STORM_COPENSSL_SHIM_H
#define STORM_COPENSSL_SHIM_H
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif
