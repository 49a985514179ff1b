#include "kubefn/cli/app.hpp"

#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>

#include "commands/command.hpp"

#ifndef KUBEFN_VERSION
#define KUBEFN_VERSION "0.0.0"
#endif

namespace kubefn::cli {

using namespace commands;

std::string version() {
  return KUBEFN_VERSION;
}

struct CommandLine::State {
  State(std::istream& in, std::ostream& out, std::ostream& err) : io{in, out, err} {}
  Io io;
  Globals g;
  CLI::App app{"kubefn: deploy, call and watch C++ functions on Kubernetes or on `kubefn up`",
               "kubefn"};
};

CommandLine::CommandLine(std::istream& in, std::ostream& out, std::ostream& err)
    : state_(std::make_unique<State>(in, out, err)) {
  CLI::App& app = state_->app;
  Globals& g = state_->g;
  app.fallthrough();
  app.require_subcommand(1);
  app.set_version_flag("--version", "kubefn " + version());
  app.add_option("--kubeconfig", g.flags.kubeconfig, "kubeconfig file (selects the cluster)");
  app.add_option("--context", g.flags.context, "kubeconfig context (selects the cluster)");
  app.add_option("-n,--namespace", g.flags.ns, "namespace (default: the context's, or default)");
  app.add_option("--gateway", g.flags.gateway, "gateway URL for invoke and top ($KUBEFN_GATEWAY)");
  app.add_option("-o,--output", g.output, "output format: table, yaml or json")
      ->check(CLI::IsMember({"table", "yaml", "json"}));
}

CommandLine::~CommandLine() = default;

CLI::App& CommandLine::app() {
  return state_->app;
}

int CommandLine::run(int argc, char** argv) {
  Io& io = state_->io;
  Globals& g = state_->g;
  CLI::App& app = state_->app;
  std::ostream& out = io.out;
  std::ostream& err = io.err;
  // The library's commands come after those added through app() (up), as the help lists them.
  std::function<int(Session&)> action;

  ApplyOptions apply;
  auto* apply_cmd = app.add_subcommand("apply", "create or update Functions from manifests");
  apply_cmd->alias("deploy");
  apply_cmd->add_option("-f,--filename", apply.files, "file, directory or - for stdin")->required();
  apply_cmd->add_flag("-R,--recursive", apply.recursive, "read directories' subdirectories too");
  apply_cmd->add_flag("--wait", apply.wait, "wait until every Function is Ready (or failed)");
  apply_cmd->add_option("--timeout", apply.timeout_seconds, "seconds --wait waits")
      ->capture_default_str();
  apply_cmd->add_flag("--force-conflicts", apply.force_conflicts,
                      "take over fields another field manager owns");
  apply_cmd->callback([&] { action = [&](Session& s) { return cmd_apply(io, g, s, apply); }; });

  bool list_all = false;
  auto* list_cmd = app.add_subcommand("list", "list Functions");
  list_cmd->alias("ls");
  list_cmd->add_flag("-A,--all-namespaces", list_all, "every namespace");
  list_cmd->callback([&] { action = [&](Session& s) { return cmd_list(io, g, s, list_all); }; });

  std::string describe_name;
  auto* describe_cmd = app.add_subcommand("describe", "show a Function, its conditions and events");
  describe_cmd->add_option("NAME", describe_name, "function name")->required();
  describe_cmd->callback(
      [&] { action = [&](Session& s) { return cmd_describe(io, g, s, describe_name); }; });

  InvokeOptions invoke;
  auto* invoke_cmd = app.add_subcommand("invoke", "call a Function through the gateway");
  invoke_cmd->add_option("NAME", invoke.name, "function name")->required();
  invoke_cmd->add_option("-d,--data", invoke.data, "request body");
  invoke_cmd->add_option("--data-file", invoke.data_file, "request body from a file");
  invoke_cmd->add_option("-X,--request", invoke.method,
                         "HTTP method (default GET, POST with data)");
  invoke_cmd->add_option("-H,--header", invoke.headers, "request header 'Name: value'");
  invoke_cmd->add_option("--path", invoke.path, "path (and query) after /NAMESPACE/NAME");
  invoke_cmd->add_option("--token", invoke.token, "bearer token for private functions");
  invoke_cmd->add_option("--timeout", invoke.timeout_seconds, "seconds to wait for the answer")
      ->capture_default_str();
  invoke_cmd->add_flag("-i,--include", invoke.include_headers, "print response headers to stderr");
  invoke_cmd->add_flag(
      "--async", invoke.async,
      "queue the call (202 and a call id at once; the gateway needs a call queue)");
  invoke_cmd->add_option("--callback", invoke.callback,
                         "with --async: an http:// URL the outcome is POSTed to");
  invoke_cmd->add_option("--call", invoke.call, "print the state of the queued call ID");
  invoke_cmd->callback([&] { action = [&](Session& s) { return cmd_invoke(io, g, s, invoke); }; });

  LogsOptions logs;
  auto* logs_cmd = app.add_subcommand("logs", "print a Function's logs");
  logs_cmd->add_option("NAME", logs.name, "function name")->required();
  logs_cmd->add_flag("-f,--follow", logs.follow, "keep printing new lines (Ctrl-C to stop)");
  logs_cmd->add_option("--tail", logs.tail, "last N lines of each replica (-1: all)")
      ->capture_default_str();
  logs_cmd->add_flag("--no-prefix", logs.no_prefix, "do not prefix lines with [replica]");
  logs_cmd->callback([&] { action = [&](Session& s) { return cmd_logs(io, g, s, logs); }; });

  DeleteOptions del;
  auto* delete_cmd = app.add_subcommand("delete", "delete Functions");
  delete_cmd->add_option("NAME", del.names, "function names");
  delete_cmd->add_option("-f,--filename", del.files, "manifests naming the Functions");
  delete_cmd->add_flag("--wait", del.wait, "wait until they are gone");
  delete_cmd->add_option("--timeout", del.timeout_seconds, "seconds --wait waits")
      ->capture_default_str();
  delete_cmd->callback([&] { action = [&](Session& s) { return cmd_delete(io, g, s, del); }; });

  TopOptions top;
  auto* top_cmd =
      app.add_subcommand("top", "requests per second, in-flight and latency by function");
  top_cmd->add_option("--interval", top.interval, "seconds between the two scrapes")
      ->capture_default_str();
  top_cmd->add_flag("-A,--all-namespaces", top.all, "every namespace");
  top_cmd->add_option("--metrics-url", top.metrics_url,
                      "the gateway's metrics (default: the local platform's metrics endpoint)");
  top_cmd->callback([&] { action = [&](Session& s) { return cmd_top(io, g, s, top); }; });

  CostOptions cost;
  auto* cost_cmd = app.add_subcommand(
      "cost",
      "what each function used and cost: calls, GB-s, replica time, cost by component, "
      "beside the same load on a hosted service and on one replica always on");
  cost_cmd->add_option("NAME", cost.name, "one function (default: all in the namespace)");
  cost_cmd->add_option("--since", cost.since, "the window, ending now: 90s, 15m, 6h, 7d")
      ->capture_default_str();
  cost_cmd->add_flag("-A,--all-namespaces", cost.all, "every namespace");
  cost_cmd->add_option("--prometheus", cost.prometheus,
                       "on a cluster: the URL of the Prometheus that scrapes kubefn's gateway "
                       "and operator (default: the local platform's own totals)");
  cost_cmd->callback([&] { action = [&](Session& s) { return cmd_cost(io, g, s, cost); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    out << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::CallForVersion&) {
    out << "kubefn " << version() << "\n";
    return kExitOk;
  } catch (const CLI::RuntimeError& e) {  // a command that ran in its callback chose its code
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // CLI::Success: a command that ran in its own callback (up) finished well.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return kExitOk;
    err << "error: " << e.what() << "\n";
    err << "run 'kubefn --help' (or 'kubefn COMMAND --help') for usage\n";
    return kExitUsage;
  }
  if (!action) return kExitOk;  // a command that ran in its own callback (up)
  Session session(g, io);
  return action(session);
}

}  // namespace kubefn::cli
