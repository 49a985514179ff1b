"""Cold start on the local platform: a call to a function at zero replicas, timed to its answer.

`kubefn up` runs one function that goes to zero one second after its last call
(scaleToZeroGracePeriod 1, keepAlive fixed). Each round waits until no replica runs, then
times one call through the gateway; the reference is the same call to a warm replica.
"""
import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

FUNCTION = """apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata: {name: nap, namespace: default}
spec:
  handler: nap.call
  access: public
  scaling: {minReplicas: 0, maxReplicas: 1, scaleToZeroGracePeriod: 1, keepAlive: fixed}
  source:
    inline: |
      #include <kubefn/function.hpp>
      #include <string>
      std::string call(const kubefn::Event&, kubefn::Context&) { return "awake\\n"; }
      KUBEFN_HANDLER(call);
"""


def replicas(parent):
    """Runtime processes `kubefn up` runs for the function."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
            fields = stat[stat.rfind(")") + 2:].split()
            if int(fields[1]) != parent or fields[0] == "Z":
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                if b"KUBEFN_FUNCTION_NAME=nap\0" in f.read():
                    out.append(int(pid))
        except OSError:
            continue
    return out


def call(port):
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/default/nap")
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return (time.perf_counter() - start) * 1000, resp.status, body


def wait(pred, seconds, what):
    deadline = time.time() + seconds
    while not pred():
        if time.time() > deadline:
            sys.exit(f"coldstart: timed out waiting for {what}")
        time.sleep(0.02)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubefn", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--cold-starts", type=int, default=10)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fns = os.path.join(tmp, "functions")
        os.makedirs(fns)
        with open(os.path.join(fns, "nap.yaml"), "w") as f:
            f.write(FUNCTION)
        env = dict(os.environ, KUBEFN_HOME=os.path.join(tmp, "home"))
        out = open(os.path.join(tmp, "up.out"), "w+")
        err = open(os.path.join(tmp, "up.err"), "w+")
        up = subprocess.Popen([args.kubefn, "up", fns, "--gateway-port", "0", "--metrics-port", "0",
                               "--runtime", args.runtime], env=env, stdout=out, stderr=err)
        try:
            port = None

            def ready():
                nonlocal port
                out.seek(0)
                m = re.search(r"kubefn: gateway http://127\.0\.0\.1:(\d+)", out.read())
                if m:
                    port = int(m.group(1))
                if up.poll() is not None:
                    err.seek(0)
                    sys.exit("coldstart: kubefn up exited:\n" + err.read())
                return port is not None

            wait(ready, 180, "kubefn up")
            # Warm reference: a replica is up, calls back to back.
            call(port)
            warm = sorted(call(port)[0] for _ in range(50))
            cold = []
            for _ in range(args.cold_starts):
                wait(lambda: not replicas(up.pid), 60, "scale to zero")
                ms, status, body = call(port)
                if status != 200 or body != b"awake\n":
                    sys.exit(f"coldstart: a cold call answered {status} {body!r}")
                cold.append(ms)
        finally:
            up.send_signal(signal.SIGTERM)
            up.wait(timeout=60)
    cold.sort()
    p50 = statistics.median(cold)
    p90 = cold[min(len(cold) - 1, int(round(0.9 * (len(cold) - 1))))]
    warm_p50 = statistics.median(warm)
    print(f"cold starts: {len(cold)} calls to a function at zero replicas, timed to the answer")
    print(f"  cold  p50 {p50:8.2f} ms   p90 {p90:8.2f} ms   max {cold[-1]:8.2f} ms")
    print(f"  warm  p50 {warm_p50:8.2f} ms   (same call, replica running; reference)")
    print(f"  cold/warm p50: {p50 / warm_p50:.1f}x")
    verdict = "PASS" if p50 <= 50 else "MISS"
    print(f"goal: cold start p50 <= 50 ms: {verdict} ({p50:.2f} ms)")
    print(json.dumps({"bench": "coldstart", "cold_p50_ms": round(p50, 2),
                      "cold_p90_ms": round(p90, 2), "cold_max_ms": round(cold[-1], 2),
                      "warm_p50_ms": round(warm_p50, 3), "cold_starts": len(cold),
                      "goal_p50_ms": 50, "goal_met": p50 <= 50}))


if __name__ == "__main__":
    main()
