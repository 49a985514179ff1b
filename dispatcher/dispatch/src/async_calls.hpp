// Asynchronous calls in the dispatcher: every Function gets a NATS runner (the trigger named
// "async") on the call stream, filtered to its own subject, with a durable consumer of its own
// (kubefn-async-<namespace>-<function>), so one function's slow calls never hold another's
// and its queue's backlog is its own. Each call goes through the gateway like any call; a 2xx
// is the result; other answers are retried with the event retry rules (a NAK with the backoff
// as its delay), then dead-lettered. Every step is written to the call's state, and the
// outcome is POSTed to the call's callback URL.
#pragma once

#include <chrono>
#include <string>

#include "context.hpp"
#include "nats_runner.hpp"

namespace kubefn::dispatch {

struct AsyncSettings {
  NatsCredentials nats;  // url empty: no asynchronous calls
  triggers::RetryPolicy retry;
  std::chrono::milliseconds callback_timeout{10000};
  int callback_attempts = 3;  // then the state says the callback failed
};

// The runner's trigger for ns/function: name "async", the call stream and the function's
// subject, its consumer and dead-letter subject.
triggers::NatsTrigger async_trigger(const std::string& ns, const std::string& function,
                                    const AsyncSettings& settings);
// Makes the call, state and dead-letter streams on each connect, and runs each call.
NatsHandling async_handling(Context& ctx, FunctionInfo fn, AsyncSettings settings);

}  // namespace kubefn::dispatch
