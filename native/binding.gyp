{
  # A deliberately tiny addon: it links against nothing but the OpenSSL that the running Node
  # binary already exports (the headers ship with Node under include/node/openssl), the same way
  # better-sqlite3 links against Node's N-API. No external libraries, no downloads.
  'targets': [
    {
      'target_name': 'vellum_digest_verify',
      'sources': ['src/digest_verify.c'],
      'defines': ['NAPI_VERSION=8', 'OPENSSL_API_COMPAT=30000', 'OPENSSL_NO_DEPRECATED'],
      'cflags': ['-std=c11', '-Wall', '-Wextra', '-O2'],
      'conditions': [
        ['OS=="linux"', { 'ldflags': ['-Wl,--exclude-libs,ALL'] }],
      ],
    },
  ],
}
