/*
 * Sets a file's access and modification times to the nanosecond.
 *
 * Node's fs.utimes, lutimes and futimes take seconds as a double, which at today's epoch keeps
 * only about a quarter of a microsecond; utimensat(2) and futimens(2) take whole seconds and
 * nanoseconds apart, as restic's snapshots record them.
 *
 * Each function returns 0, or the errno of the failed call (JavaScript turns it into an error
 * with Node's code and message). Wrong arguments throw a TypeError or RangeError.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* 2^53: beyond it a JavaScript number no longer holds every whole second. */
#define MAX_EXACT_SECONDS 9007199254740992.0

static napi_value fail(napi_env env, bool range, const char *message) {
  if (range) napi_throw_range_error(env, NULL, message);
  else napi_throw_type_error(env, NULL, message);
  return NULL;
}

/* Whole seconds since the epoch: a bigint, or a number that is an integer. */
static bool get_seconds(napi_env env, napi_value value, time_t *out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_bigint) {
    int64_t s;
    bool lossless;
    if (napi_get_value_bigint_int64(env, value, &s, &lossless) != napi_ok || !lossless) {
      fail(env, true, "seconds out of range");
      return false;
    }
    *out = (time_t)s;
    return true;
  }
  if (type == napi_number) {
    double d;
    napi_get_value_double(env, value, &d);
    if (!(d >= -MAX_EXACT_SECONDS && d <= MAX_EXACT_SECONDS) || d != (double)(int64_t)d) {
      fail(env, true, "seconds must be a whole number");
      return false;
    }
    *out = (time_t)d;
    return true;
  }
  fail(env, false, "seconds must be a number or a bigint");
  return false;
}

static bool get_nanoseconds(napi_env env, napi_value value, long *out) {
  napi_valuetype type;
  double d;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_number) {
    fail(env, false, "nanoseconds must be a number");
    return false;
  }
  napi_get_value_double(env, value, &d);
  if (!(d >= 0 && d <= 999999999) || d != (double)(long)d) {
    fail(env, true, "nanoseconds must be a whole number from 0 to 999999999");
    return false;
  }
  *out = (long)d;
  return true;
}

/* args[first..first+3]: atime seconds, atime nanoseconds, mtime seconds, mtime nanoseconds. */
static bool get_times(napi_env env, napi_value *args, struct timespec ts[2]) {
  return get_seconds(env, args[0], &ts[0].tv_sec) && get_nanoseconds(env, args[1], &ts[0].tv_nsec) &&
         get_seconds(env, args[2], &ts[1].tv_sec) && get_nanoseconds(env, args[3], &ts[1].tv_nsec);
}

static napi_value errno_result(napi_env env, int rc) {
  napi_value result;
  napi_create_int32(env, rc == 0 ? 0 : errno, &result);
  return result;
}

/* setTimes(path, atimeSec, atimeNsec, mtimeSec, mtimeNsec, followSymlinks) -> errno or 0 */
static napi_value set_times(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value args[6];
  napi_valuetype type;
  struct timespec ts[2];
  bool follow;
  size_t length;
  char small[PATH_MAX];
  char *path = small;
  napi_value result;

  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != 6) return fail(env, false, "setTimes takes 6 arguments");
  if (napi_typeof(env, args[0], &type) != napi_ok || type != napi_string) return fail(env, false, "path must be a string");
  if (!get_times(env, args + 1, ts)) return NULL;
  if (napi_get_value_bool(env, args[5], &follow) != napi_ok) return fail(env, false, "followSymlinks must be a boolean");

  napi_get_value_string_utf8(env, args[0], NULL, 0, &length);
  if (length >= sizeof small) {
    path = malloc(length + 1);
    if (path == NULL) return fail(env, true, "out of memory");
  }
  napi_get_value_string_utf8(env, args[0], path, length + 1, &length);
  if (memchr(path, 0, length) != NULL) {
    if (path != small) free(path);
    return fail(env, false, "path must not contain NUL");
  }
  result = errno_result(env, utimensat(AT_FDCWD, path, ts, follow ? 0 : AT_SYMLINK_NOFOLLOW));
  if (path != small) free(path);
  return result;
}

/* setFdTimes(fd, atimeSec, atimeNsec, mtimeSec, mtimeNsec) -> errno or 0 */
static napi_value set_fd_times(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value args[5];
  napi_valuetype type;
  struct timespec ts[2];
  int32_t fd;

  napi_get_cb_info(env, info, &argc, args, NULL, NULL);
  if (argc != 5) return fail(env, false, "setFdTimes takes 5 arguments");
  if (napi_typeof(env, args[0], &type) != napi_ok || type != napi_number) return fail(env, false, "fd must be a number");
  napi_get_value_int32(env, args[0], &fd);
  if (fd < 0) return fail(env, true, "fd must not be negative");
  if (!get_times(env, args + 1, ts)) return NULL;
  return errno_result(env, futimens(fd, ts));
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
    {"setTimes", NULL, set_times, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setFdTimes", NULL, set_fd_times, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
