"""Measures kubefn-runtime against nginx on the same machine in the same run.

Prints, per server and concurrency: requests per second, p50/p99 latency, CPU microseconds
per request (server's utime+stime over the requests served), then cold start (spawn to
first 200, median of 10) and idle RSS, and the ratios kubefn/nginx. With --baseline-runtime
(bench/runtime/run does so for BENCH_BASELINE=<git revision>) the same figures for that
build too, and the ratios kubefn/baseline. The last line is JSON.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
REPS = int(os.environ.get("BENCH_REPS", "3"))
CONCURRENCY = [1, 16, 64]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]
    except OSError:
        return []


def tree(pid):
    return [pid] + children(pid)


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total


def get_ok(port, timeout=0.05):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = s.recv(64)
            return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def wait_ready(port, deadline_s=10):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if get_ok(port):
            return True
        time.sleep(0.0002)
    return False


class Server:
    def __init__(self, name, argv, env, port, cwd=None):
        self.name, self.argv, self.env, self.port, self.cwd = name, argv, env, port, cwd
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["taskset", "-c", "0"] + self.argv, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.cwd)
        return self.proc

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def kubefn_server(runtime, function_dir):
    port = free_port()
    env = dict(os.environ, FUNC_HANDLER="hello.greet", FUNC_PORT=str(port),
               KUBEFN_BIND_ADDRESS="127.0.0.1", KUBEFN_FUNCTION_DIR=function_dir)
    return Server("kubefn", [runtime], env, port)


def nginx_server(workdir):
    port = free_port()
    conf = os.path.join(workdir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {workdir}; proxy_temp_path {workdir}; fastcgi_temp_path {workdir};
  uwsgi_temp_path {workdir}; scgi_temp_path {workdir};
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "hello world"; }} }}
}}
""")
    return Server("nginx", ["nginx", "-c", conf], dict(os.environ), port)


WRK_RE = {
    "rps": re.compile(r"Requests/sec:\s+([\d.]+)"),
    "requests": re.compile(r"(\d+) requests in"),
    "p50": re.compile(r"50%\s+([\d.]+)(us|ms|s)"),
    "p99": re.compile(r"99%\s+([\d.]+)(us|ms|s)"),
}


def to_ms(value, unit):
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def run_wrk(port, conns):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{conns}", f"-d{DURATION}s",
                          "--latency", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    m = {k: r.search(out) for k, r in WRK_RE.items()}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(m["rps"].group(1)),
        "requests": int(m["requests"].group(1)),
        "p50_ms": to_ms(*m["p50"].groups()),
        "p99_ms": to_ms(*m["p99"].groups()),
        "errors": int(non2xx.group(1)) if non2xx else 0,
    }


def load(server):
    results = {}
    server.start()
    if not wait_ready(server.port):
        raise SystemExit(f"{server.name} did not start")
    pids = tree(server.proc.pid)
    time.sleep(0.5)
    idle_rss = rss_kib(pids)
    for c in CONCURRENCY:
        reps = []
        for _ in range(REPS):
            before = cpu_ticks(pids)
            r = run_wrk(server.port, c)
            after = cpu_ticks(pids)
            r["cpu_us_per_req"] = (after - before) / CLK_TCK * 1e6 / max(1, r["requests"])
            reps.append(r)
        results[c] = {k: statistics.median(x[k] for x in reps) for k in reps[0]}
    server.stop()
    return results, idle_rss


def cold_start(make_server, runs=10):
    times = []
    for _ in range(runs):
        server = make_server()
        t0 = time.monotonic()
        server.start()
        ok = wait_ready(server.port)
        t1 = time.monotonic()
        server.stop()
        if ok:
            times.append((t1 - t0) * 1e3)
    return statistics.median(times) if times else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--function-dir", required=True)
    ap.add_argument("--baseline-runtime", help="the previous build's kubefn-runtime")
    ap.add_argument("--baseline-function-dir", help="the previous build's examples")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: run scripts/setup")
    work = tempfile.mkdtemp(prefix="kubefn-bench-")
    print(f"rig: {os.cpu_count()} CPUs, server on CPU 0, wrk -t1 on CPU 1, "
          f"{DURATION}s x {REPS} reps (median)", flush=True)

    make_kubefn = lambda: kubefn_server(args.runtime, args.function_dir)
    make_nginx = lambda: nginx_server(work)
    kubefn, kubefn_rss = load(make_kubefn())
    nginx, nginx_rss = load(make_nginx())
    kubefn_cold = cold_start(make_kubefn)
    nginx_cold = cold_start(make_nginx)
    baseline = None
    if args.baseline_runtime:
        make_baseline = lambda: kubefn_server(args.baseline_runtime,
                                              args.baseline_function_dir or args.function_dir)
        baseline, baseline_rss = load(make_baseline())
        baseline_cold = cold_start(make_baseline)

    print(f"{'server':8} {'conns':>5} {'RPS':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'errors':>6}")
    rows = [("nginx", nginx), ("kubefn", kubefn)] + ([("baseline", baseline)] if baseline else [])
    for name, res in rows:
        for c in CONCURRENCY:
            r = res[c]
            print(f"{name:8} {c:5d} {r['rps']:10.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
                  f"{r['cpu_us_per_req']:10.2f} {int(r['errors']):6d}")
    print(f"cold start (spawn to first 200, median of 10): kubefn {kubefn_cold:.2f} ms, "
          f"nginx {nginx_cold:.2f} ms")
    print(f"idle RSS: kubefn {kubefn_rss / 1024:.1f} MiB, nginx {nginx_rss / 1024:.1f} MiB "
          f"(master+worker)")
    ratios = {c: kubefn[c]["rps"] / nginx[c]["rps"] for c in CONCURRENCY}
    print("RPS ratio kubefn/nginx: " + ", ".join(f"c={c}: {ratios[c]:.2f}x" for c in CONCURRENCY))
    summary = {
        "bench": "runtime",
        "duration_s": DURATION,
        "reps": REPS,
        "kubefn": {str(c): kubefn[c] for c in CONCURRENCY},
        "nginx": {str(c): nginx[c] for c in CONCURRENCY},
        "ratio_rps": {str(c): round(ratios[c], 3) for c in CONCURRENCY},
        "cold_start_ms": {"kubefn": round(kubefn_cold, 2), "nginx": round(nginx_cold, 2)},
        "idle_rss_mib": {"kubefn": round(kubefn_rss / 1024, 2), "nginx": round(nginx_rss / 1024, 2)},
    }
    if baseline:
        vs = {c: kubefn[c]["rps"] / baseline[c]["rps"] for c in CONCURRENCY}
        cpu = {c: kubefn[c]["cpu_us_per_req"] / baseline[c]["cpu_us_per_req"] for c in CONCURRENCY}
        print(f"baseline: cold start {baseline_cold:.2f} ms, idle RSS {baseline_rss / 1024:.1f} MiB")
        print("RPS ratio kubefn/baseline: " +
              ", ".join(f"c={c}: {vs[c]:.3f}x" for c in CONCURRENCY) +
              "; CPU per request kubefn/baseline: " +
              ", ".join(f"c={c}: {cpu[c]:.3f}x" for c in CONCURRENCY))
        summary["baseline"] = {str(c): baseline[c] for c in CONCURRENCY}
        summary["ratio_rps_vs_baseline"] = {str(c): round(vs[c], 3) for c in CONCURRENCY}
        summary["ratio_cpu_vs_baseline"] = {str(c): round(cpu[c], 3) for c in CONCURRENCY}
        summary["cold_start_ms"]["baseline"] = round(baseline_cold, 2)
        summary["idle_rss_mib"]["baseline"] = round(baseline_rss / 1024, 2)
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
