// Preloaded into `kubefn up` by a test: every chmod fails, so a file is private only if it was
// created so (never made private after being created readable).
#include <errno.h>
#include <sys/stat.h>

extern "C" int chmod(const char*, mode_t) {
  errno = EPERM;
  return -1;
}

extern "C" int fchmod(int, mode_t) {
  errno = EPERM;
  return -1;
}

extern "C" int fchmodat(int, const char*, mode_t, int) {
  errno = EPERM;
  return -1;
}
