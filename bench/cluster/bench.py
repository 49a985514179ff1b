#!/usr/bin/env python3
"""kubefn on a real node (scripts/cluster up --real-node, scripts/cluster install).

Measures, against references taken in the same run:
  1. source to first answer: `kubectl apply` of the hello example (a fresh source each time,
     so a real compile) until its first 200 through the gateway, with the breakdown the API's
     timestamps give (Job created, build pod scheduled, build container ran, function pod
     scheduled, image pulled, container started, ready, first answer);
  2. 0 -> 1: a call to a function at zero replicas (its image already on the node) until its
     answer, against the same call to a warm replica;
  3. the gateway's added latency through the pod network at c=16: the load generator against
     the gateway's node port and against the function's pod directly.
Prints the figures and ends with one line of JSON.
"""
import argparse
import datetime
import json
import re
import statistics
import subprocess
import sys
import time

KUBECTL = None
KUBECONFIG = None


def kubectl(*args, stdin=None, check=True, timeout=120):
    r = subprocess.run([KUBECTL, "--kubeconfig", KUBECONFIG, *args], input=stdin,
                       capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def kjson(*args):
    out = kubectl(*args, "-o", "json", check=False)
    try:
        return json.loads(out)
    except ValueError:
        return None


def ts(text):
    if not text:
        return None
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def call(url, timeout=60):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time",
                        str(timeout), url], capture_output=True, text=True)
    return int(r.stdout or 0)


def wait(pred, timeout, poll=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(poll)
    return None


def condition(obj, kind):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c.get("type") == kind:
            return c
    return {}


def function(ns, name, code, scaling=None):
    spec = {"runtime": "cpp20", "handler": f"{name}.handle", "access": "public",
            "source": {"inline": code}}
    if scaling:
        spec["scaling"] = scaling
    return json.dumps({"apiVersion": "kubefn.dev/v1alpha1", "kind": "Function",
                       "metadata": {"name": name, "namespace": ns}, "spec": spec})


def replying(text):
    return ("#include <kubefn/function.hpp>\n#include <string>\n"
            "std::string handle(const kubefn::Event&, kubefn::Context&) { return \"" + text +
            "\\n\"; }\nKUBEFN_HANDLER(handle);\n")


def gateway_url():
    svc = kjson("-n", "kubefn-system", "get", "service", "kubefn-gateway")
    node = kjson("get", "nodes")["items"][0]
    address = [a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP"][0]
    return f"http://{address}:{svc['spec']['ports'][0]['nodePort']}"


def source_to_first_answer(ns, gateway, rep):
    name = f"first{rep}"
    t0 = time.time()
    kubectl("apply", "-f", "-", stdin=function(ns, name, replying(f"first {rep} {t0}")))
    url = f"{gateway}/{ns}/{name}"
    ok = wait(lambda: call(url, 30) == 200, 300, 0.05)
    t_answer = time.time()
    if not ok:
        raise RuntimeError(f"{name} never answered")
    # The breakdown, from the API's timestamps (whole seconds).
    jobs = kjson("-n", ns, "get", "jobs", "-l", f"kubefn.dev/function={name}")["items"]
    build_pods = kjson("-n", ns, "get", "pods", "-l", f"kubefn.dev/function={name},kubefn.dev/build")
    fn_pods = kjson("-n", ns, "get", "pods", "-l", f"kubefn.dev/function={name},!kubefn.dev/build")
    out = {"total_s": t_answer - t0}
    if jobs:
        out["job_created_s"] = ts(jobs[0]["metadata"]["creationTimestamp"]) - t0
    for pod in (build_pods or {}).get("items", [])[:1]:
        out["build_scheduled_s"] = ts(condition(pod, "PodScheduled").get("lastTransitionTime")) - t0
        st = pod["status"]["containerStatuses"][0]["state"].get("terminated", {})
        out["build_ran_s"] = ts(st.get("finishedAt")) - ts(st.get("startedAt"))
        try:
            report = json.loads(st.get("message", "{}"))
            out["build_reported_s"] = report.get("seconds")
        except ValueError:
            pass
        out["build_done_s"] = ts(st.get("finishedAt")) - t0
    for pod in (fn_pods or {}).get("items", [])[:1]:
        out["pod_scheduled_s"] = ts(condition(pod, "PodScheduled").get("lastTransitionTime")) - t0
        cs = pod["status"]["containerStatuses"][0]
        out["container_started_s"] = ts(cs["state"].get("running", {}).get("startedAt")) - t0
        out["ready_s"] = ts(condition(pod, "Ready").get("lastTransitionTime")) - t0
        events = kjson("-n", ns, "get", "events", "--field-selector",
                       f"involvedObject.name={pod['metadata']['name']},reason=Pulled")
        for e in (events or {}).get("items", []):
            m = re.search(r"in ([0-9.]+)(m?s)", e.get("message", ""))
            if m:
                out["pull_s"] = float(m.group(1)) / (1000 if m.group(2) == "ms" else 1)
    kubectl("-n", ns, "delete", "function", name, "--wait=false")
    return out


def zero_to_one(ns, gateway, reps):
    name = "cold"
    scaling = {"minReplicas": 0, "maxReplicas": 1, "keepAlive": "fixed",
               "scaleToZeroGracePeriod": 2, "stableWindow": 6}
    kubectl("apply", "-f", "-", stdin=function(ns, name, replying("cold"), scaling))
    url = f"{gateway}/{ns}/{name}"
    if not wait(lambda: call(url, 30) == 200, 300, 0.2):
        raise RuntimeError("the cold function never answered")
    cold, warm = [], []
    for _ in range(reps):
        def pods_gone():
            p = kjson("-n", ns, "get", "pods", "-l", f"kubefn.dev/function={name},!kubefn.dev/build")
            return p is not None and not p["items"]
        if not wait(pods_gone, 180, 0.5):
            raise RuntimeError("the cold function never went to zero")
        t = time.time()
        status = call(url, 60)
        cold.append(time.time() - t)
        if status != 200:
            raise RuntimeError(f"a call at zero got {status}")
        for _ in range(3):
            t = time.time()
            call(url, 10)
            warm.append(time.time() - t)
    kubectl("-n", ns, "delete", "function", name, "--wait=false")
    return cold, warm


def hey(url, n, c):
    r = subprocess.run(["hey", "-n", str(n), "-c", str(c), "-t", "20", url], capture_output=True,
                       text=True, timeout=300)
    text = r.stdout
    lat = {}
    for p in ("50", "99"):
        m = re.search(rf"\s{p}% in ([0-9.]+) secs", text)
        lat[p] = float(m.group(1)) * 1000 if m else None
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    codes = dict((int(a), int(b)) for a, b in re.findall(r"\[(\d{3})\]\s+(\d+) responses", text))
    return {"p50_ms": lat["50"], "p99_ms": lat["99"], "rps": float(rps.group(1)) if rps else None,
            "codes": codes}


def gateway_latency(ns, gateway, n):
    name = "direct"
    kubectl("apply", "-f", "-", stdin=function(ns, name, replying("direct"),
                                               {"minReplicas": 1, "maxReplicas": 1}))
    url = f"{gateway}/{ns}/{name}"
    if not wait(lambda: call(url, 30) == 200, 300, 0.2):
        raise RuntimeError("the direct function never answered")
    pod = kjson("-n", ns, "get", "pods", "-l", f"kubefn.dev/function={name},!kubefn.dev/build")["items"][0]
    direct = f"http://{pod['status']['podIP']}:8080/"
    if call(direct, 10) != 200:
        raise RuntimeError(f"the pod does not answer directly at {direct}")
    hey(url, 500, 16)  # warm both paths
    hey(direct, 500, 16)
    via, bare = [], []
    for _ in range(3):  # interleaved
        via.append(hey(url, n, 16))
        bare.append(hey(direct, n, 16))
    kubectl("-n", ns, "delete", "function", name, "--wait=false")
    return via, bare


def main():
    global KUBECTL, KUBECONFIG
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubectl", required=True)
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--cold-starts", type=int, default=5)
    ap.add_argument("--requests", type=int, default=5000)
    a = ap.parse_args()
    KUBECTL, KUBECONFIG = a.kubectl, a.kubeconfig
    ns = "bench-cluster"
    kubectl("delete", "namespace", ns, "--ignore-not-found", "--wait=true", timeout=180)
    kubectl("create", "namespace", ns)
    gateway = gateway_url()

    print("== source to first answer (kubectl apply -> first 200), goal <= 15 s")
    firsts = []
    for rep in range(a.reps):
        f = source_to_first_answer(ns, gateway, rep)
        firsts.append(f)
        print("  " + "  ".join(f"{k}={v:.2f}" if isinstance(v, float) else f"{k}={v}"
                               for k, v in f.items()))
    first_p50 = statistics.median(f["total_s"] for f in firsts)
    print(f"  p50 {first_p50:.2f} s over {a.reps}")

    print("== 0 -> 1 (a call at zero, image on the node), goal p50 <= 1 s")
    cold, warm = zero_to_one(ns, gateway, a.cold_starts)
    cold_p50 = statistics.median(cold) * 1000
    warm_p50 = statistics.median(warm) * 1000
    print(f"  cold p50 {cold_p50:.0f} ms (max {max(cold) * 1000:.0f} ms) over {len(cold)};"
          f" warm p50 {warm_p50:.1f} ms; cold/warm {cold_p50 / warm_p50:.0f}x")

    print(f"== gateway added latency, c=16, {a.requests} calls x 3 interleaved")
    via, bare = gateway_latency(ns, gateway, a.requests)
    p50v = statistics.median(r["p50_ms"] for r in via)
    p99v = statistics.median(r["p99_ms"] for r in via)
    p50b = statistics.median(r["p50_ms"] for r in bare)
    p99b = statistics.median(r["p99_ms"] for r in bare)
    rpsv = statistics.median(r["rps"] for r in via)
    rpsb = statistics.median(r["rps"] for r in bare)
    print(f"  through the gateway: p50 {p50v:.2f} ms p99 {p99v:.2f} ms {rpsv:.0f} rps {via[-1]['codes']}")
    print(f"  to the pod directly: p50 {p50b:.2f} ms p99 {p99b:.2f} ms {rpsb:.0f} rps {bare[-1]['codes']}")
    print(f"  added: p50 {p50v - p50b:+.2f} ms, p99 {p99v - p99b:+.2f} ms; rps ratio {rpsv / rpsb:.2f}")
    kubectl("delete", "namespace", ns, "--wait=false")
    print(json.dumps({
        "bench": "cluster",
        "source_to_first_answer_p50_s": round(first_p50, 2),
        "source_to_first_answer": [{k: round(v, 2) if isinstance(v, float) else v
                                    for k, v in f.items()} for f in firsts],
        "zero_to_one_p50_ms": round(cold_p50, 1), "zero_to_one_max_ms": round(max(cold) * 1000, 1),
        "warm_p50_ms": round(warm_p50, 2),
        "gateway_p50_ms": round(p50v, 3), "gateway_p99_ms": round(p99v, 3),
        "direct_p50_ms": round(p50b, 3), "direct_p99_ms": round(p99b, 3),
        "gateway_added_p50_ms": round(p50v - p50b, 3), "gateway_added_p99_ms": round(p99v - p99b, 3),
        "gateway_rps": rpsv, "direct_rps": rpsb,
    }))


if __name__ == "__main__":
    sys.exit(main())
