{
  "targets": [
    {
      "target_name": "sluice_native",
      "sources": ["sluice_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
