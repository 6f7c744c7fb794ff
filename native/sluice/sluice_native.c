/*
 * Sluice's native module (loaded by src/runtime/native.ts; built by scripts/build-native.mjs).
 * Only what JavaScript cannot do cheaply on the bulk-transfer paths; every decision (formats,
 * nonces, ownership of buffers) stays in TypeScript.
 *
 * In-place AES-256-GCM for the encrypted store's segments (src/adapters/storage/segment-crypto.ts).
 * node:crypto has no in-place form; every 64 KiB segment cost a fresh output buffer, a copy and
 * garbage for the collector (about a third of a second of CPU per GiB). These use the OpenSSL
 * that Node itself carries (its exported EVP symbols), on the caller's memory.
 *
 * sealSegment(key, buf, from, len, at, nonce)
 *   Moves plaintext buf[from, from+len) to buf[at, at+len) (at >= from), encrypts it there in
 *   place and writes the 16-byte tag at buf[at+len]. Returns undefined; throws on bad arguments.
 * openSegment(key, buf, pos, len, out, nonce) -> boolean
 *   Decrypts ciphertext buf[pos, pos+len) followed by its tag, in place, and verifies the tag.
 *   Verified: moves the plaintext to buf[out, out+len) (out <= pos) and returns true.
 *   Not verified: overwrites buf[pos, pos+len+16) with zeros (no unverified plaintext is ever left
 *   behind) and returns false.
 * Contract (MUST hold, checked here): key is 32 bytes, nonce 12, every range inside buf.
 *
 * copyBytes(dst, at, src)
 *   Copies all of src into dst at offset `at` (memmove). V8 copies into or out of shared memory
 *   (the stores' IO buffers are SharedArrayBuffers) with relaxed atomics, byte-group by
 *   byte-group, several times slower than memcpy; the callers own both buffers exclusively while
 *   copying (the IO buffer ownership rules, storage/common.ts), so a plain copy is sound.
 *   Throws when src does not fit.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/evp.h>
#include <string.h>
#include <stdint.h>

#define TAG 16

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, "ERR_SLUICE_NATIVE", msg);
  return NULL;
}

static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value ab;
    void *p;
    if (napi_get_typedarray_info(env, v, &type, &length, &p, &ab, &offset) != napi_ok || type != napi_uint8_array) return 0;
    *data = p;
    *len = length;
    return 1;
  }
  return 0;
}

static int int_of(napi_env env, napi_value v, int64_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 9007199254740991.0) || (double)(int64_t)d != d) return 0;
  *out = (int64_t)d;
  return 1;
}

/* Reads (key, buf, a, len, b, nonce) and checks them; returns 0 after throwing. */
static int args6(napi_env env, napi_callback_info info, uint8_t **key, uint8_t **buf, size_t *bufLen, int64_t *a, int64_t *len, int64_t *b, uint8_t **nonce) {
  size_t argc = 6;
  napi_value argv[6];
  size_t keyLen, nonceLen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 6) return fail(env, "six arguments expected"), 0;
  if (!bytes_of(env, argv[0], key, &keyLen) || keyLen != 32) return fail(env, "key must be 32 bytes"), 0;
  if (!bytes_of(env, argv[1], buf, bufLen)) return fail(env, "buf must be a Uint8Array"), 0;
  if (!int_of(env, argv[2], a) || !int_of(env, argv[3], len) || !int_of(env, argv[4], b)) return fail(env, "offsets must be non-negative integers"), 0;
  if (!bytes_of(env, argv[5], nonce, &nonceLen) || nonceLen != 12) return fail(env, "nonce must be 12 bytes"), 0;
  if (*len > INT32_MAX) return fail(env, "segment too long"), 0;
  return 1;
}

static napi_value seal_segment(napi_env env, napi_callback_info info) {
  uint8_t *key, *buf, *nonce;
  size_t bufLen;
  int64_t from, len, at;
  if (!args6(env, info, &key, &buf, &bufLen, &from, &len, &at, &nonce)) return NULL;
  if (at < from || (uint64_t)from + len > bufLen || (uint64_t)at + len + TAG > bufLen) return fail(env, "range outside the buffer");
  if (at != from) memmove(buf + at, buf + from, (size_t)len);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, ok = ctx != NULL;
  ok = ok && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1;
  ok = ok && (len == 0 || EVP_EncryptUpdate(ctx, buf + at, &outl, buf + at, (int)len) == 1);
  ok = ok && EVP_EncryptFinal_ex(ctx, buf + at + len, &outl) == 1;
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG, buf + at + len) == 1;
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    memset(buf + at, 0, (size_t)len + TAG);
    return fail(env, "encryption failed");
  }
  return NULL;
}

static napi_value open_segment(napi_env env, napi_callback_info info) {
  uint8_t *key, *buf, *nonce;
  size_t bufLen;
  int64_t pos, len, out;
  if (!args6(env, info, &key, &buf, &bufLen, &pos, &len, &out, &nonce)) return NULL;
  if (out > pos || (uint64_t)pos + len + TAG > bufLen) return fail(env, "range outside the buffer");
  uint8_t tag[TAG];
  memcpy(tag, buf + pos + len, TAG);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int outl = 0, ok = ctx != NULL;
  ok = ok && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1;
  ok = ok && (len == 0 || EVP_DecryptUpdate(ctx, buf + pos, &outl, buf + pos, (int)len) == 1);
  ok = ok && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1;
  ok = ok && EVP_DecryptFinal_ex(ctx, buf + pos + len, &outl) == 1;
  EVP_CIPHER_CTX_free(ctx);
  napi_value result;
  if (!ok) {
    memset(buf + pos, 0, (size_t)len + TAG);
    napi_get_boolean(env, false, &result);
    return result;
  }
  if (out != pos) memmove(buf + out, buf + pos, (size_t)len);
  napi_get_boolean(env, true, &result);
  return result;
}

static napi_value copy_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  uint8_t *dst, *src;
  size_t dstLen, srcLen;
  int64_t at;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return fail(env, "three arguments expected");
  if (!bytes_of(env, argv[0], &dst, &dstLen) || !bytes_of(env, argv[2], &src, &srcLen)) return fail(env, "dst and src must be Uint8Arrays");
  if (!int_of(env, argv[1], &at)) return fail(env, "offsets must be non-negative integers");
  if ((uint64_t)at + srcLen > dstLen) return fail(env, "range outside the buffer");
  if (srcLen > 0) memmove(dst + at, src, srcLen);
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "sealSegment", NAPI_AUTO_LENGTH, seal_segment, NULL, &f);
  napi_set_named_property(env, exports, "sealSegment", f);
  napi_create_function(env, "openSegment", NAPI_AUTO_LENGTH, open_segment, NULL, &f);
  napi_set_named_property(env, exports, "openSegment", f);
  napi_create_function(env, "copyBytes", NAPI_AUTO_LENGTH, copy_bytes, NULL, &f);
  napi_set_named_property(env, exports, "copyBytes", f);
  return exports;
}
