// kubefn-pause: the process that holds a pod's sandbox (its namespaces) open while the pod's
// containers come and go. It does nothing but wait: SIGTERM or SIGINT end it with status 0, and
// as the sandbox's PID 1 it reaps every child that is handed to it (SIGCHLD, waitpid WNOHANG),
// so no zombie outlives its process. Linked statically: the image holds this file and nothing
// else.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace {

volatile sig_atomic_t stop_requested = 0;
volatile sig_atomic_t child_exited = 0;

void on_stop(int) {
  stop_requested = 1;
}

void on_child(int) {
  child_exited = 1;
}

void reap_children() {
  const int saved = errno;
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  errno = saved;
}

bool install(int signal, void (*handler)(int)) {
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | (signal == SIGCHLD ? SA_NOCLDSTOP : 0);
  return sigaction(signal, &action, nullptr) == 0;
}

void say(const char* text) {
  const std::size_t length = std::strlen(text);
  if (write(STDERR_FILENO, text, length) < 0) {
    // Nowhere else to report it.
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && (std::strcmp(argv[1], "-v") == 0 || std::strcmp(argv[1], "--version") == 0)) {
    say("kubefn-pause " KUBEFN_VERSION "\n");
    return 0;
  }
  // The three signals stay blocked except while waiting in sigsuspend, so none arrives between
  // checking the flags and going back to sleep.
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGCHLD);
  sigset_t waiting;
  if (sigprocmask(SIG_BLOCK, &handled, &waiting) != 0 || !install(SIGTERM, on_stop) ||
      !install(SIGINT, on_stop) || !install(SIGCHLD, on_child)) {
    say("kubefn-pause: cannot install signal handlers\n");
    return 1;
  }
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);
  sigdelset(&waiting, SIGCHLD);
  reap_children();  // children that ended before the handler was there
  while (!stop_requested) {
    sigsuspend(&waiting);  // returns after a handler ran
    if (child_exited) {
      child_exited = 0;
      reap_children();
    }
  }
  return 0;
}
