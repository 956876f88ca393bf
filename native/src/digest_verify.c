/*
 * vellum_digest_verify: verify a signature over a precomputed digest with the OpenSSL that Node
 * itself links and exports.
 *
 * Why this exists: hashedrekord entries carry only the artifact digest. node:crypto always hashes
 * its input, so it cannot verify ECDSA over a digest; @noble/curves can, but ~35x slower. OpenSSL's
 * EVP_PKEY_verify takes the digest directly (the signature md only sets the expected digest length
 * for ECDSA and the DigestInfo for RSA PKCS#1 v1.5).
 *
 * JS surface (all argument checking is strict; inputs are attacker-controlled bytes):
 *   parseKey(spkiDer: Buffer) -> external | null    null when OpenSSL cannot parse the SPKI
 *   parseEcKey(curve: 'P-256'|'P-384'|'P-521', point: Buffer) -> external | null
 *   parseRsaKey(n: Buffer, e: Buffer) -> external | null   (big-endian magnitudes)
 *   verifyDigest(key, digest: Buffer, sig: Buffer, md: 'sha256'|'sha384'|'sha512') -> boolean
 *   opensslVersion() -> string                       the OpenSSL the addon is running against
 *
 * ECDSA signatures must be DER here (the TypeScript side converts IEEE P1363 first); RSA uses
 * PKCS#1 v1.5 padding. Any OpenSSL failure (malformed signature, wrong length, unsupported key
 * type) is a rejection, never an exception, and the thread's OpenSSL error queue is always left
 * empty: Node's own crypto code on the same thread reads that queue, so a stale entry left here
 * could make an unrelated node:crypto call fail later.
 */
#include <node_api.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

#define THROW_TYPE(env, msg)                   \
  do {                                         \
    napi_throw_type_error((env), NULL, (msg)); \
    return NULL;                               \
  } while (0)

#define NAPI_OK(env, call)                                          \
  do {                                                              \
    if ((call) != napi_ok) {                                        \
      napi_throw_error((env), NULL, "vellum_digest_verify: N-API call failed"); \
      return NULL;                                                  \
    }                                                               \
  } while (0)

/* Tag so a foreign external (or a forged object) is never cast to EVP_PKEY*. */
static const napi_type_tag KEY_TAG = {0x76656c6c756d2d6bULL, 0x65792d6576702d31ULL};

static void key_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  EVP_PKEY_free((EVP_PKEY *)data);
}

static int get_buffer(napi_env env, napi_value v, const unsigned char **data, size_t *len) {
  bool is_buf = false;
  if (napi_is_buffer(env, v, &is_buf) != napi_ok || !is_buf) return 0;
  void *p = NULL;
  if (napi_get_buffer_info(env, v, &p, len) != napi_ok) return 0;
  *data = (const unsigned char *)p;
  return 1;
}

/* Hands ownership of `pkey` to a tagged external (or frees it and returns JS null). */
static napi_value wrap_key(napi_env env, EVP_PKEY *pkey) {
  napi_value result;
  ERR_clear_error();
  if (pkey == NULL) {
    NAPI_OK(env, napi_get_null(env, &result));
    return result;
  }
  if (napi_create_external(env, pkey, key_finalize, NULL, &result) != napi_ok) {
    EVP_PKEY_free(pkey);
    napi_throw_error(env, NULL, "vellum_digest_verify: cannot create external");
    return NULL;
  }
  if (napi_type_tag_object(env, result, &KEY_TAG) != napi_ok) {
    napi_throw_error(env, NULL, "vellum_digest_verify: cannot tag external");
    return NULL;
  }
  return result;
}

static napi_value parse_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "parseKey(der): der is required");
  const unsigned char *der = NULL;
  size_t der_len = 0;
  if (!get_buffer(env, argv[0], &der, &der_len)) THROW_TYPE(env, "parseKey(der): der must be a Buffer");

  /* d2i_* take a long length; refuse anything that would not round-trip. */
  if (der_len == 0 || der_len > (size_t)(1 << 20)) return wrap_key(env, NULL);
  const unsigned char *p = der;
  EVP_PKEY *pkey = d2i_PUBKEY(NULL, &p, (long)der_len);
  /* Trailing bytes after the SPKI mean the caller's DER is not what it claims to be. */
  if (pkey != NULL && (size_t)(p - der) != der_len) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  return wrap_key(env, pkey);
}

/*
 * Why parseEcKey/parseRsaKey exist next to parseKey: in OpenSSL 3.0 (what Node 20 ships)
 * d2i_PUBKEY goes through the generic decoder framework and costs ~150-270 us per key, more than
 * the signature check itself. Fulcio certificates carry a fresh key per signature, so every
 * hashedrekord pays it. Importing the already-parsed components with EVP_PKEY_fromdata costs
 * ~10-40 us. The caller (TypeScript) has parsed and canonicality-checked the SPKI already.
 */
static EVP_PKEY *from_params(const char *type, const OSSL_PARAM *params) {
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  if (ctx == NULL) return NULL;
  if (EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, (OSSL_PARAM *)params) != 1) {
    EVP_PKEY_free(pkey);
    pkey = NULL;
  }
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

static napi_value parse_ec_key(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "parseEcKey(curve, point): 2 arguments required");
  char curve[8];
  size_t curve_len = 0;
  if (napi_get_value_string_utf8(env, argv[0], curve, sizeof curve, &curve_len) != napi_ok)
    THROW_TYPE(env, "parseEcKey: curve must be a string");
  if (strcmp(curve, "P-256") != 0 && strcmp(curve, "P-384") != 0 && strcmp(curve, "P-521") != 0)
    THROW_TYPE(env, "parseEcKey: curve must be P-256, P-384 or P-521");
  const unsigned char *point = NULL;
  size_t point_len = 0;
  if (!get_buffer(env, argv[1], &point, &point_len)) THROW_TYPE(env, "parseEcKey: point must be a Buffer");
  if (point_len == 0 || point_len > 133) return wrap_key(env, NULL);
  OSSL_PARAM params[3];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, curve, 0);
  params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, point_len);
  params[2] = OSSL_PARAM_construct_end();
  /* The import decodes the point and rejects points that are not on the curve. */
  return wrap_key(env, from_params("EC", params));
}

static napi_value parse_rsa_key(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) THROW_TYPE(env, "parseRsaKey(n, e): 2 arguments required");
  const unsigned char *n = NULL, *e = NULL;
  size_t n_len = 0, e_len = 0;
  if (!get_buffer(env, argv[0], &n, &n_len)) THROW_TYPE(env, "parseRsaKey: n must be a Buffer");
  if (!get_buffer(env, argv[1], &e, &e_len)) THROW_TYPE(env, "parseRsaKey: e must be a Buffer");
  /* 16384-bit moduli and 64-bit exponents are far beyond anything the TypeScript side admits. */
  if (n_len == 0 || n_len > 2048 || e_len == 0 || e_len > 8) return wrap_key(env, NULL);
  EVP_PKEY *pkey = NULL;
  BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL);
  BIGNUM *bn_e = BN_bin2bn(e, (int)e_len, NULL);
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM *params = NULL;
  if (bn_n != NULL && bn_e != NULL && bld != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) == 1 && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL) {
    pkey = from_params("RSA", params);
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  return wrap_key(env, pkey);
}

static const EVP_MD *md_by_name(const char *name) {
  if (strcmp(name, "sha256") == 0) return EVP_sha256();
  if (strcmp(name, "sha384") == 0) return EVP_sha384();
  if (strcmp(name, "sha512") == 0) return EVP_sha512();
  return NULL;
}

static napi_value verify_digest(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) THROW_TYPE(env, "verifyDigest(key, digest, sig, md): 4 arguments required");

  bool tagged = false;
  if (napi_check_object_type_tag(env, argv[0], &KEY_TAG, &tagged) != napi_ok || !tagged)
    THROW_TYPE(env, "verifyDigest: key must be a handle returned by parseKey");
  void *raw = NULL;
  NAPI_OK(env, napi_get_value_external(env, argv[0], &raw));
  EVP_PKEY *pkey = (EVP_PKEY *)raw;

  const unsigned char *digest = NULL, *sig = NULL;
  size_t digest_len = 0, sig_len = 0;
  if (!get_buffer(env, argv[1], &digest, &digest_len)) THROW_TYPE(env, "verifyDigest: digest must be a Buffer");
  if (!get_buffer(env, argv[2], &sig, &sig_len)) THROW_TYPE(env, "verifyDigest: sig must be a Buffer");

  char md_name[16];
  size_t md_name_len = 0;
  if (napi_get_value_string_utf8(env, argv[3], md_name, sizeof md_name, &md_name_len) != napi_ok)
    THROW_TYPE(env, "verifyDigest: md must be a string");
  const EVP_MD *md = md_by_name(md_name);
  if (md == NULL) THROW_TYPE(env, "verifyDigest: md must be sha256, sha384 or sha512");

  int ok = 0;
  /* A digest of the wrong length is a caller bug for RSA and a silent truncation for ECDSA; reject. */
  if (digest_len == (size_t)EVP_MD_get_size(md) && sig_len > 0) {
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
    if (ctx != NULL) {
      int base = EVP_PKEY_get_base_id(pkey);
      /* Only RSA and EC: any other key type reaching here is a bug upstream, and a rejection. */
      if ((base == EVP_PKEY_RSA || base == EVP_PKEY_EC) && EVP_PKEY_verify_init(ctx) == 1 &&
          EVP_PKEY_CTX_set_signature_md(ctx, md) == 1 &&
          (base != EVP_PKEY_RSA || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1)) {
        ok = EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) == 1;
      }
      EVP_PKEY_CTX_free(ctx);
    }
  }
  ERR_clear_error();

  napi_value result;
  NAPI_OK(env, napi_get_boolean(env, ok, &result));
  return result;
}

static napi_value openssl_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  NAPI_OK(env, napi_create_string_utf8(env, OpenSSL_version(OPENSSL_VERSION), NAPI_AUTO_LENGTH, &result));
  return result;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"parseKey", NULL, parse_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"parseEcKey", NULL, parse_ec_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"parseRsaKey", NULL, parse_rsa_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"verifyDigest", NULL, verify_digest, NULL, NULL, NULL, napi_enumerable, NULL},
      {"opensslVersion", NULL, openssl_version, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
