// A function the replica supervisor's tests can make misbehave: crash when asked, crash or hang
// while loading, and say which process and tag answered.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <kubefn/function.hpp>
#include <string>
#include <thread>

namespace {

// Runs when the runtime opens the function, before it listens.
struct LoadTimeBehaviour {
  LoadTimeBehaviour() {
    if (std::getenv("FIXTURE_CRASH_AT_START") != nullptr) {
      std::fprintf(stderr, "fixture: crashing at start on request\n");
      std::fflush(stderr);
      std::abort();
    }
    if (std::getenv("FIXTURE_HANG_AT_START") != nullptr) {
      std::fprintf(stderr, "fixture: hanging at start on request\n");
      std::fflush(stderr);
      for (;;)
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
};
const LoadTimeBehaviour load_time_behaviour;

}  // namespace

// Body "abort": the process aborts. Otherwise answers "<tag> <pid>".
std::string serve(const kubefn::Event& event, kubefn::Context&) {
  if (event.data == "abort") std::abort();
  const char* tag = std::getenv("FIXTURE_TAG");
  return std::string(tag != nullptr ? tag : "untagged") + " " + std::to_string(::getpid());
}
KUBEFN_HANDLER(serve);
