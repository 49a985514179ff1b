"""Times kubefn-operator converging N Functions on the Kubernetes API emulator.

For each size: start a fresh emulator and operator, register the CRD, create N Functions
with prebuilt images, and measure the time until all are Ready (the emulator's Deployment
controller marks replicas ready), the operator's peak RSS, and the operator's API writes
during a quiet window after convergence. The last line is JSON.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000 10000").split()]
QUIET = int(os.environ.get("BENCH_QUIET_SECONDS", "60"))


class Api:
    def __init__(self, host, port):
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def call(self, method, path, body=None, ctype="application/json"):
        headers = {"Content-Type": ctype} if body is not None else {}
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        return r.status, data


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scrape(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    return c.getresponse().read().decode()


def writes(metrics_text):
    return sum(float(m.group(1)) for m in
               re.finditer(r'^kubefn_operator_api_writes_total\{[^}]*\} ([0-9.e+]+)$',
                           metrics_text, re.M))


def run_size(args, n, work):
    emu = subprocess.Popen([args.emulator, "--port", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    url = emu.stdout.readline().strip()
    host, port = url.replace("http://", "").split(":")
    api = Api(host, int(port))
    kubeconfig = os.path.join(work, f"kubeconfig-{n}")
    with open(kubeconfig, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster:\n    server: {url}\n"
                "users:\n- name: u\n  user: {}\ncontexts:\n- name: e\n  context:\n    cluster: e\n"
                "    user: u\ncurrent-context: e\n")
    kubectl = [args.kubectl, "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(work, "cache")]
    subprocess.run(kubectl + ["apply", "-f", args.crd], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(kubectl + ["wait", "--for", "condition=established", "--timeout=30s",
                              "crd/functions.kubefn.dev"], check=True, stdout=subprocess.DEVNULL)
    base = "/apis/kubefn.dev/v1alpha1/namespaces/default/functions"
    err = open(os.path.join(work, f"operator-{n}.log"), "w")
    op = subprocess.Popen([args.operator, "--kubeconfig", kubeconfig, "--metrics-port", "0",
                           "--bind-address", "127.0.0.1", "--workers", "4"],
                          stdout=subprocess.DEVNULL, stderr=err)
    metrics_port = None
    for _ in range(200):
        with open(os.path.join(work, f"operator-{n}.log")) as f:
            m = re.search(r"metrics on 127\.0\.0\.1:(\d+)", f.read())
        if m:
            metrics_port = int(m.group(1))
            break
        time.sleep(0.05)
    assert metrics_port, "operator did not start"

    t0 = time.monotonic()
    for i in range(n):
        fn = {"apiVersion": "kubefn.dev/v1alpha1", "kind": "Function",
              "metadata": {"name": f"fn-{i}", "namespace": "default"},
              "spec": {"handler": "fn.run", "image": f"registry.local/fn:{i}"}}
        status, body = api.call("POST", base, json.dumps(fn))
        assert status == 201, body
    created = time.monotonic() - t0
    peak_rss = 0
    ready = 0
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        peak_rss = max(peak_rss, rss_kib(op.pid))
        status, body = api.call("GET", base)
        items = json.loads(body)["items"]
        ready = sum(1 for it in items for c in it.get("status", {}).get("conditions", [])
                    if c["type"] == "Ready" and c["status"] == "True")
        if ready == n:
            break
        time.sleep(0.5)
    converged = time.monotonic() - t0
    op_cpu, emu_cpu = cpu_seconds(op.pid), cpu_seconds(emu.pid)
    before = writes(scrape(metrics_port))
    end = time.monotonic() + QUIET
    while time.monotonic() < end:
        peak_rss = max(peak_rss, rss_kib(op.pid))
        time.sleep(1)
    after = writes(scrape(metrics_port))
    settled_rss = rss_kib(op.pid)
    op.terminate()
    op.wait(30)
    emu.terminate()
    emu.wait(30)
    return {"functions": n, "ready": ready, "create_s": round(created, 2),
            "all_ready_s": round(converged, 2), "operator_peak_rss_mib": round(peak_rss / 1024, 1),
            "operator_settled_rss_mib": round(settled_rss / 1024, 1),
            "writes_after_convergence": int(after - before), "quiet_window_s": QUIET,
            "operator_cpu_s": round(op_cpu, 1), "emulator_cpu_s": round(emu_cpu, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--operator", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--crd", required=True)
    ap.add_argument("--kubectl", required=True)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kubefn-opbench-")
    results = []
    print(f"{'functions':>9} {'ready':>6} {'create s':>9} {'all Ready s':>11} {'peak RSS MiB':>12} "
          f"{'writes after':>12} {'operator CPU s':>14} {'emulator CPU s':>14}")
    for n in SIZES:
        r = run_size(args, n, work)
        results.append(r)
        print(f"{r['functions']:9d} {r['ready']:6d} {r['create_s']:9.2f} {r['all_ready_s']:11.2f} "
              f"{r['operator_peak_rss_mib']:12.1f} {r['writes_after_convergence']:12d} "
              f"{r['operator_cpu_s']:14.1f} {r['emulator_cpu_s']:14.1f}", flush=True)
    print(json.dumps({"bench": "operator", "results": results}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
