// The test binary's operator new, counting the allocations of a thread that asks (for the hot
// path's no-allocation promise). Apart from the tests so that no delete is inlined beside it.
#include <atomic>
#include <cstdlib>
#include <new>

namespace kubefn::metering::test {
namespace {
thread_local bool counting = false;
std::atomic<int> count{0};
}  // namespace

void count_allocations(bool on) {
  count = 0;
  counting = on;
}
int allocations() {
  return count.load();
}

}  // namespace kubefn::metering::test

void* operator new(std::size_t n) {
  if (kubefn::metering::test::counting) kubefn::metering::test::count.fetch_add(1);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
