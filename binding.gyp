{
  "targets": [
    {
      "target_name": "file_times",
      "sources": ["native/file-times.c"],
      "cflags": ["-Wall", "-Wextra"]
    }
  ]
}
