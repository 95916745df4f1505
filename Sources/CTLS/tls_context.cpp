#include "tls_context.h"

#include <csignal>
#include <cstring>
#include <mutex>
#include <fstream>
#include <iterator>
#include <vector>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

namespace tbtls {
namespace {

std::string lastOpenSSLError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool readAll(const std::string &path, std::vector<unsigned char> &bytes, std::string &error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "'" + path + "' cannot be read: " + std::strerror(errno);
    return false;
  }
  bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return true;
}

bool isPEM(const std::vector<unsigned char> &bytes) {
  const std::string head(bytes.begin(), bytes.begin() + std::min<size_t>(bytes.size(), 4096));
  return head.find("-----BEGIN") != std::string::npos;
}

bool isJKS(const std::vector<unsigned char> &bytes) {
  return bytes.size() >= 4 && bytes[0] == 0xFE && bytes[1] == 0xED && bytes[2] == 0xFE && bytes[3] == 0xED;
}

// OpenSSL asks for a PEM key's passphrase through this; the userdata is the password.
int passwordCallback(char *buffer, int size, int, void *userdata) {
  const auto *password = static_cast<const std::string *>(userdata);
  const int length = static_cast<int>(std::min<size_t>(password->size(), static_cast<size_t>(size)));
  std::memcpy(buffer, password->data(), static_cast<size_t>(length));
  return length;
}

struct PKCS12Contents {
  EVP_PKEY *key = nullptr;
  X509 *certificate = nullptr;
  STACK_OF(X509) *chain = nullptr;
  ~PKCS12Contents() {
    EVP_PKEY_free(key);
    X509_free(certificate);
    sk_X509_pop_free(chain, X509_free);
  }
};

bool openPKCS12(const std::vector<unsigned char> &bytes, const std::string &path, const std::string &password,
                PKCS12Contents &out, std::string &error) {
  const unsigned char *cursor = bytes.data();
  PKCS12 *p12 = d2i_PKCS12(nullptr, &cursor, static_cast<long>(bytes.size()));
  if (!p12) {
    ERR_clear_error();
    error = "'" + path + "' is neither PKCS#12 nor PEM";
    return false;
  }
  const bool opened = PKCS12_parse(p12, password.c_str(), &out.key, &out.certificate, &out.chain) == 1;
  PKCS12_free(p12);
  if (!opened) {
    error = "'" + path + "' is a PKCS#12 keystore this password does not open (" + lastOpenSSLError() + ")";
    return false;
  }
  return true;
}

} // namespace

bool useKeystore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error) {
  std::vector<unsigned char> bytes;
  if (!readAll(path, bytes, error)) return false;
  if (isJKS(bytes)) {
    error = "'" + path +
            "' is a Java KeyStore (JKS), which this build cannot read: convert it with keytool -importkeystore "
            "-srckeystore " + path + " -destkeystore server.p12 -deststoretype PKCS12";
    return false;
  }
  if (isPEM(bytes)) {
    if (SSL_CTX_use_certificate_chain_file(ctx, path.c_str()) != 1) {
      error = "'" + path + "' holds no usable PEM certificate (" + lastOpenSSLError() + ")";
      return false;
    }
    std::string secret = password;
    SSL_CTX_set_default_passwd_cb(ctx, passwordCallback);
    SSL_CTX_set_default_passwd_cb_userdata(ctx, &secret);
    const bool keyed = SSL_CTX_use_PrivateKey_file(ctx, path.c_str(), SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
    if (!keyed) {
      error = "'" + path + "' holds no private key this password opens (" + lastOpenSSLError() + ")";
      return false;
    }
  } else {
    PKCS12Contents contents;
    if (!openPKCS12(bytes, path, password, contents, error)) return false;
    if (!contents.key || !contents.certificate) {
      error = "'" + path + "' holds no certificate with its private key";
      return false;
    }
    if (SSL_CTX_use_certificate(ctx, contents.certificate) != 1 || SSL_CTX_use_PrivateKey(ctx, contents.key) != 1) {
      error = "'" + path + "': " + lastOpenSSLError();
      return false;
    }
    for (int i = 0; contents.chain && i < sk_X509_num(contents.chain); i++)
      SSL_CTX_add1_chain_cert(ctx, sk_X509_value(contents.chain, i));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = "'" + path + "': the private key does not match the certificate";
    return false;
  }
  return true;
}

bool useTruststore(SSL_CTX *ctx, const std::string &path, const std::string &password, std::string &error) {
  std::vector<unsigned char> bytes;
  if (!readAll(path, bytes, error)) return false;
  if (isJKS(bytes)) {
    error = "'" + path + "' is a Java KeyStore (JKS), which this build cannot read: convert it to PKCS#12 or PEM";
    return false;
  }
  X509_STORE *store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  if (isPEM(bytes)) {
    BIO *bio = BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size()));
    while (X509 *certificate = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      if (X509_STORE_add_cert(store, certificate) == 1) added++;
      X509_free(certificate);
    }
    BIO_free(bio);
    ERR_clear_error();
  } else {
    PKCS12Contents contents;
    if (!openPKCS12(bytes, path, password, contents, error)) return false;
    if (contents.certificate && X509_STORE_add_cert(store, contents.certificate) == 1) added++;
    for (int i = 0; contents.chain && i < sk_X509_num(contents.chain); i++)
      if (X509_STORE_add_cert(store, sk_X509_value(contents.chain, i)) == 1) added++;
  }
  if (added == 0) {
    error = "'" + path + "' holds no certificate to trust";
    return false;
  }
  return true;
}

void quietBrokenPipes() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
  });
}

std::string peerSubject(SSL *ssl) {
  if (!ssl) return "";
  X509 *certificate = SSL_get1_peer_certificate(ssl);
  if (!certificate) return "";
  BIO *bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
  char *data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string subject(data, static_cast<size_t>(length));
  BIO_free(bio);
  X509_free(certificate);
  return subject;
}

} // namespace tbtls
