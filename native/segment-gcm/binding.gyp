{
  "targets": [
    {
      "target_name": "segment_gcm",
      "sources": ["segment_gcm.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
