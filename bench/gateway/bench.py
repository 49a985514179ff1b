"""Measures the gateway hop: wrk against kubefn-runtime directly and through kubefn-gateway.

Same run, same pinning (runtime and gateway on CPU 0, wrk on CPU 1). For c=16 and c=64:
requests per second and p50/p99 both ways, the added p50/p99, and the gateway's CPU
microseconds per proxied request. With --baseline-gateway (bench/gateway/run does so for
BENCH_BASELINE=<git revision>) the previous build's gateway is measured too, in front of the
same runtime, and the ratios new/baseline printed. The last line is JSON.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
CONCURRENCY = [16, 64]
SERVER_CPU = "0"
CLIENT_CPU = "1"


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def start(argv, env, log):
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    pattern = re.compile(r'"msg":"listening","port":([0-9]+)')
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(log) as f:
            m = pattern.search(f.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.01)
    proc.kill()
    sys.exit(f"{argv[0]} did not start; see {log}")


def to_us(text):
    m = re.match(r"([0-9.]+)(us|ms|s)", text)
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1, "ms": 1000, "s": 1e6}[unit]


def wrk(url, connections):
    out = subprocess.run(
        ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{DURATION}s",
         "--latency", url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    total = int(re.search(r"([0-9]+) requests in", out).group(1))
    p50 = to_us(re.search(r"\s50%\s+([0-9.]+\w+)", out).group(1))
    p99 = to_us(re.search(r"\s99%\s+([0-9.]+\w+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    errors = int(bad.group(1)) if bad else 0
    sock = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "requests": total, "p50_us": p50, "p99_us": p99, "errors": errors,
            "socket_errors": sock.group(0) if sock else ""}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--hello", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--baseline-gateway", help="the previous build's kubefn-gateway")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="gateway-bench-")
    runtime, rport = start([args.runtime], {
        "FUNC_HANDLER": "greet", "MOD_NAME": "hello", "KUBEFN_FUNCTION_LIB": args.hello,
        "FUNC_PORT": "0", "KUBEFN_BIND_ADDRESS": "127.0.0.1"}, os.path.join(tmp, "runtime.log"))
    # --metrics-port 0: two gateways in one run must not both take the default metrics port.
    gateway, gport = start([args.gateway, "--port", "0", "--metrics-port", "0", "--threads", "1",
                            "--route",
                            f"default/hello=127.0.0.1:{rport};public"], {},
                           os.path.join(tmp, "gateway.log"))
    baseline = None
    if args.baseline_gateway:
        baseline, bport = start([args.baseline_gateway, "--port", "0", "--metrics-port", "0",
                                 "--threads", "1", "--route",
                                 f"default/hello=127.0.0.1:{rport};public"], {},
                                os.path.join(tmp, "baseline-gateway.log"))
    results = {}
    try:
        # Warm both paths (connection pools, page cache).
        wrk(f"http://127.0.0.1:{rport}/", 4)
        wrk(f"http://127.0.0.1:{gport}/default/hello", 4)
        if baseline:
            wrk(f"http://127.0.0.1:{bport}/default/hello", 4)
        for c in CONCURRENCY:
            direct = wrk(f"http://127.0.0.1:{rport}/", c)
            before = cpu_ticks(gateway.pid)
            via = wrk(f"http://127.0.0.1:{gport}/default/hello", c)
            ticks = cpu_ticks(gateway.pid) - before
            cpu_us = ticks / CLK_TCK * 1e6 / max(1, via["requests"])
            r = {
                "direct_rps": round(direct["rps"]), "gateway_rps": round(via["rps"]),
                "direct_p50_us": direct["p50_us"], "direct_p99_us": direct["p99_us"],
                "gateway_p50_us": via["p50_us"], "gateway_p99_us": via["p99_us"],
                "added_p50_us": round(via["p50_us"] - direct["p50_us"], 1),
                "added_p99_us": round(via["p99_us"] - direct["p99_us"], 1),
                "gateway_cpu_us_per_request": round(cpu_us, 1),
                "rps_ratio": round(via["rps"] / direct["rps"], 3) if direct["rps"] else 0,
                "errors": direct["errors"] + via["errors"],
            }
            if baseline:
                before = cpu_ticks(baseline.pid)
                old = wrk(f"http://127.0.0.1:{bport}/default/hello", c)
                old_cpu = (cpu_ticks(baseline.pid) - before) / CLK_TCK * 1e6 / max(1, old["requests"])
                r.update({
                    "baseline_rps": round(old["rps"]), "baseline_p50_us": old["p50_us"],
                    "baseline_p99_us": old["p99_us"],
                    "baseline_cpu_us_per_request": round(old_cpu, 1),
                    "rps_vs_baseline": round(via["rps"] / old["rps"], 3) if old["rps"] else 0,
                    "cpu_vs_baseline": round(cpu_us / old_cpu, 3) if old_cpu else 0,
                })
                r["errors"] += old["errors"]
            results[f"c{c}"] = r
            print(f"c={c:<3} direct : {direct['rps']:>9.0f} rps  p50 {direct['p50_us']:>8.1f} us"
                  f"  p99 {direct['p99_us']:>8.1f} us")
            print(f"      gateway: {via['rps']:>9.0f} rps  p50 {via['p50_us']:>8.1f} us"
                  f"  p99 {via['p99_us']:>8.1f} us")
            print(f"      added  : p50 {r['added_p50_us']} us, p99 {r['added_p99_us']} us;"
                  f" throughput x{r['rps_ratio']}; gateway CPU {r['gateway_cpu_us_per_request']}"
                  f" us/request (goal <= 20); non-2xx {r['errors']}")
            if baseline:
                print(f"      baseline gateway: {old['rps']:>9.0f} rps  p50 {old['p50_us']:>8.1f} us"
                      f"  p99 {old['p99_us']:>8.1f} us, CPU {r['baseline_cpu_us_per_request']}"
                      f" us/request; new/baseline: throughput x{r['rps_vs_baseline']},"
                      f" CPU x{r['cpu_vs_baseline']}")
            for side in (direct, via) + ((old,) if baseline else ()):
                if side["socket_errors"]:
                    print("      " + side["socket_errors"])
    finally:
        gateway.terminate()
        runtime.terminate()
        if baseline:
            baseline.terminate()
            baseline.wait(timeout=30)
        gateway.wait(timeout=30)
        runtime.wait(timeout=30)
    print(json.dumps({"bench": "gateway", "duration_s": DURATION, "pinning":
                      {"runtime": SERVER_CPU, "gateway": SERVER_CPU, "wrk": CLIENT_CPU},
                      **results}))


if __name__ == "__main__":
    main()
