"""Times kubefn-operator converging N Functions on the Kubernetes API emulator and on the real
control plane (scripts/cluster: etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
kwok nodes).

For each size and API: start a fresh API and operator, register the CRD, create N Functions
with prebuilt images, and measure the time until all are Ready (on the emulator its Deployment
controller marks replicas ready; on the cluster the real Deployment and ReplicaSet controllers
and scheduler place pods that kwok marks Ready), the operator's peak RSS, the operator's API
writes during a quiet window after convergence, and the CPU each process spent. The last line
is JSON.
"""
import argparse
import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
import time

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "1000 10000").split()]
QUIET = int(os.environ.get("BENCH_QUIET_SECONDS", "60"))
APIS = os.environ.get("BENCH_APIS", "emulator cluster").split()
CLUSTER_PROCESSES = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]


class Api:
    def __init__(self, host, port, tls=None):
        if tls is None:
            self.conn = http.client.HTTPConnection(host, port, timeout=60)
        else:
            ctx = ssl.create_default_context(cafile=tls["ca"])
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.conn = http.client.HTTPSConnection(host, port, timeout=60, context=ctx)

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


def start_emulator(args, n, work):
    emu = subprocess.Popen([args.emulator, "--port", "0"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    url = emu.stdout.readline().strip()
    host, port = url.replace("http://", "").split(":")
    kubeconfig = os.path.join(work, f"kubeconfig-{n}")
    with open(kubeconfig, "w") as f:
        f.write(f"apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster:\n    server: {url}\n"
                "users:\n- name: u\n  user: {}\ncontexts:\n- name: e\n  context:\n    cluster: e\n"
                "    user: u\ncurrent-context: e\n")
    stop = lambda: (emu.terminate(), emu.wait(30))
    return Api(host, int(port)), kubeconfig, {"emulator": emu.pid}, stop


def start_cluster(args, n, work):
    state = os.path.join(work, f"cluster-{n}")
    env = dict(os.environ, KUBEFN_CLUSTER_DIR=state, KUBEFN_CLUSTER_QPS="1000")
    t0 = time.monotonic()
    subprocess.run([args.cluster, "up"], check=True, env=env, stdout=subprocess.DEVNULL)
    up_s = time.monotonic() - t0
    kubeconfig = os.path.join(state, "admin.kubeconfig")
    with open(os.path.join(state, "run", "ports", "kube-apiserver")) as f:
        port = int(f.read())
    pki = os.path.join(state, "pki")
    api = Api("127.0.0.1", port, {"ca": os.path.join(pki, "ca.crt"),
                                  "cert": os.path.join(pki, "admin.crt"),
                                  "key": os.path.join(pki, "admin.key")})
    pids = {}
    for name in CLUSTER_PROCESSES:
        with open(os.path.join(state, "run", f"{name}.pid")) as f:
            pids[name] = int(f.read())
    stop = lambda: subprocess.run([args.cluster, "down"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    return api, kubeconfig, pids, stop, up_s


def run_size(args, api_kind, n, work):
    up_s = None
    if api_kind == "cluster":
        api, kubeconfig, pids, stop, up_s = start_cluster(args, n, work)
    else:
        api, kubeconfig, pids, stop = start_emulator(args, n, work)
    kubectl = [args.kubectl, "--kubeconfig", kubeconfig, "--cache-dir", os.path.join(work, "cache")]
    subprocess.run(kubectl + ["apply", "-f", args.crd], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(kubectl + ["wait", "--for", "condition=established", "--timeout=30s",
                              "crd/functions.kubefn.dev"], check=True, stdout=subprocess.DEVNULL)
    # The server may need a moment after Established before it serves the new kind.
    for _ in range(100):
        if api.call("GET", "/apis/kubefn.dev/v1alpha1/functions?limit=1")[0] == 200:
            break
        time.sleep(0.1)
    cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    base = "/apis/kubefn.dev/v1alpha1/namespaces/default/functions"
    log = os.path.join(work, f"operator-{api_kind}-{n}.log")
    err = open(log, "w")
    op = subprocess.Popen([args.operator, "--kubeconfig", kubeconfig, "--metrics-port", "0",
                           "--bind-address", "127.0.0.1", "--workers", "4"],
                          stdout=subprocess.DEVNULL, stderr=err)
    metrics_port = None
    for _ in range(200):
        with open(log) as f:
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
    op_cpu = cpu_seconds(op.pid)
    api_cpu = {name: round(cpu_seconds(pid) - cpu_before[name], 1) for name, pid in pids.items()}
    before = writes(scrape(metrics_port))
    end = time.monotonic() + QUIET
    while time.monotonic() < end:
        peak_rss = max(peak_rss, rss_kib(op.pid))
        time.sleep(1)
    after = writes(scrape(metrics_port))
    settled_rss = rss_kib(op.pid)
    op.terminate()
    op.wait(30)
    stop()
    result = {"api": api_kind, "functions": n, "ready": ready, "create_s": round(created, 2),
              "all_ready_s": round(converged, 2),
              "operator_peak_rss_mib": round(peak_rss / 1024, 1),
              "operator_settled_rss_mib": round(settled_rss / 1024, 1),
              "writes_after_convergence": int(after - before), "quiet_window_s": QUIET,
              "operator_cpu_s": round(op_cpu, 1), "api_cpu_s": api_cpu}
    if up_s is not None:
        result["cluster_up_s"] = round(up_s, 1)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--operator", required=True)
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--crd", required=True)
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--cluster", required=True, help="scripts/cluster")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="kubefn-opbench-")
    results = []
    print(f"{'api':>8} {'functions':>9} {'ready':>6} {'create s':>9} {'all Ready s':>11} "
          f"{'peak RSS MiB':>12} {'writes after':>12} {'operator CPU s':>14}  API CPU s")
    for n in SIZES:
        for api_kind in APIS:
            r = run_size(args, api_kind, n, work)
            results.append(r)
            cpu = ", ".join(f"{k} {v}" for k, v in r["api_cpu_s"].items())
            print(f"{r['api']:>8} {r['functions']:9d} {r['ready']:6d} {r['create_s']:9.2f} "
                  f"{r['all_ready_s']:11.2f} {r['operator_peak_rss_mib']:12.1f} "
                  f"{r['writes_after_convergence']:12d} {r['operator_cpu_s']:14.1f}  {cpu}",
                  flush=True)
    by = {(r["api"], r["functions"]): r for r in results}
    for n in SIZES:
        if ("emulator", n) in by and ("cluster", n) in by:
            e, c = by[("emulator", n)], by[("cluster", n)]
            print(f"{n} Functions: the real control plane took {c['all_ready_s'] / e['all_ready_s']:.2f}x "
                  f"the emulator's time to Ready; operator peak RSS {c['operator_peak_rss_mib']} vs "
                  f"{e['operator_peak_rss_mib']} MiB")
    print(json.dumps({"bench": "operator", "results": results}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
