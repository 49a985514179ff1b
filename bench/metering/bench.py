"""Metering accuracy and overhead (issue 16), against references taken in the same run.

Accuracy. Four functions of one handler (busy for ?ms=N milliseconds by its own steady clock,
then answering the nanoseconds that took) with different work (2 ms spinning, 10, 20 and
80 ms asleep) and memory limits (128Mi, 256Mi, 512Mi, 1Gi) run by `kubefn up` (a fresh
KUBEFN_HOME). A load driver replays a seeded schedule (Poisson arrivals per function: steady,
a burst, a quiet gap in which the 10 ms function goes to zero, and a return that brings it
back cold) over keep-alive connections and logs every request and answer: status, its own
latency, and the handler's time from the answer. That log is the ground truth. After the load
the gateway's counters are polled until settled, `kubefn up` is stopped with SIGTERM (its
replicas exit and their last seconds are metered), and the totals are read from the last
line of $KUBEFN_HOME/metering/history.jsonl, the sample `kubefn up` writes once everything has
stopped (the live /api/v1/cost before the stop lacks the replicas' last seconds). Compared:
  - metered invocations against the driver's answered calls (goal: exact);
  - metered GB-s against the driver's: each 2xx call's time by the handler's own clock as it
    answered, rounded up to 1 ms, times its memory limit in GB (2^30 bytes); goal within
    0.5%. Also shown: against N+1 ms a call (what an undisturbed handler bills: N ms of work
    plus the microseconds around it, rounded up), which differs by the calls a busy machine
    made run longer, counted;
  - starting+busy+idle replica-seconds against the replicas' lifetimes, spawned to exited per
    run in the platform's own event log ($KUBEFN_HOME/metering/events.jsonl, steady clock);
    goal within 1%.
Overhead. Metering on against off, same binaries, same run: wrk -t1 -c16, the servers on CPU 0
and wrk on CPU 1, in rounds of fresh processes (so no one process's state decides), each round
A B B A so that drift cancels:
  (a) kubefn-runtime serving examples/hello directly, with its execution header (on) and with
      KUBEFN_EXECUTION_HEADER=0 (off); goal on/off throughput >= 0.97;
  (b) kubefn-gateway in front of it: the header and the gateway's meter on, against
      KUBEFN_EXECUTION_HEADER=0 and KUBEFN_GATEWAY_METERING=0.
The ratio is the geometric mean of the rounds' on/off ratios, with its 95% interval over the
rounds; a goal whose interval holds 0.97 is marked not resolved. CPU per call (the servers'
schedstat time over the calls) is shown beside it.
Prints the figures with PASS/MISS against each goal (informational: the bench never fails on a
figure) and ends with one line of JSON.
Env: BENCH_SEED (1), BENCH_RATE (rate multiplier, 1), BENCH_OVERHEAD_SECONDS (2 a run),
BENCH_OVERHEAD_REPS (5 rounds).
"""
import argparse
import http.client
import json
import math
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

GIB = float(1 << 30)
SEED = int(os.environ.get("BENCH_SEED", "1"))
RATE = float(os.environ.get("BENCH_RATE", "1"))
OVERHEAD_SECONDS = int(os.environ.get("BENCH_OVERHEAD_SECONDS", "2"))
OVERHEAD_REPS = int(os.environ.get("BENCH_OVERHEAD_REPS", "5"))
SERVER_CPU = "0"
CLIENT_CPU = "1"
WORKERS = 48  # driver threads, one keep-alive connection each

SOURCE = r"""// busy for ?ms=N milliseconds by its own steady clock (spinning with ?spin=1, else
// asleep), then answers the nanoseconds that took.
#include <kubefn/function.hpp>
#include <chrono>
#include <string>
#include <thread>

std::string work(const kubefn::Event& event, kubefn::Context&) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  long ms = 0;
  for (char c : event.query_param("ms")) {
    if (c < '0' || c > '9') break;
    ms = ms * 10 + (c - '0');
  }
  const Clock::time_point until = start + std::chrono::milliseconds(ms);
  if (event.query_param("spin") == "1") {
    while (Clock::now() < until) {
    }
  } else {
    std::this_thread::sleep_until(until);
  }
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start);
  return std::to_string(took.count()) + "\n";
}
KUBEFN_HANDLER(work);
"""

# name, memory limit, work (ms, spinning?), spec.scaling
FUNCTIONS = [
    {"name": "spin2", "memory": "128Mi", "bytes": 128 << 20, "ms": 2, "spin": True,
     "scaling": "{minReplicas: 1, maxReplicas: 2, target: 4, stableWindow: 6}"},
    {"name": "sleep20", "memory": "512Mi", "bytes": 512 << 20, "ms": 20, "spin": False,
     "scaling": "{minReplicas: 1, maxReplicas: 3, target: 2, stableWindow: 6}"},
    {"name": "sleep80", "memory": "1Gi", "bytes": 1 << 30, "ms": 80, "spin": False,
     "scaling": "{minReplicas: 1, maxReplicas: 4, target: 1, stableWindow: 6}"},
    {"name": "nap10", "memory": "256Mi", "bytes": 256 << 20, "ms": 10, "spin": False,
     "scaling": "{minReplicas: 0, maxReplicas: 2, target: 2, stableWindow: 6,"
                " scaleToZeroGracePeriod: 2, keepAlive: fixed}"},
]

# (phase, seconds, calls per second per function)
PHASES = [
    ("steady", 20, {"spin2": 40, "sleep20": 15, "sleep80": 5, "nap10": 5}),
    ("burst", 8, {"spin2": 150, "sleep20": 60, "sleep80": 40, "nap10": 20}),
    ("quiet", 20, {"spin2": 10, "sleep20": 5, "sleep80": 2, "nap10": 0}),
    ("return", 12, {"spin2": 40, "sleep20": 15, "sleep80": 5, "nap10": 5}),
]


def manifest(fn):
    # One source per function (its name in the first line): Functions sharing one source digest
    # share one build, and only the first of them is requeued when it is done (the others wait).
    source = f"// {fn['name']}: " + SOURCE.removeprefix("// ")
    body = "".join("      " + line + "\n" if line else "\n" for line in source.splitlines())
    return (f"apiVersion: kubefn.dev/v1alpha1\nkind: Function\n"
            f"metadata:\n  name: {fn['name']}\n  namespace: default\n"
            f"spec:\n  handler: metered.work\n  access: public\n  timeout: 30\n"
            f"  resources:\n    limits:\n      memory: {fn['memory']}\n"
            f"  scaling: {fn['scaling']}\n"
            f"  source:\n    inline: |\n{body}")


def schedule(seed):
    rng = random.Random(seed)
    items, start = [], 0.0
    for phase, seconds, rates in PHASES:
        for fn in FUNCTIONS:
            rate = rates[fn["name"]] * RATE
            if rate <= 0:
                continue
            t = start + rng.expovariate(rate)
            while t < start + seconds:
                items.append((t, fn["name"], phase))
                t += rng.expovariate(rate)
        start += seconds
    items.sort()
    return items, start


# ---------------------------------------------------------------------------------------
# The load driver


def drive(port, items, log_path):
    """Sends every item at its time (open loop) from WORKERS threads; returns the log read back."""
    by_name = {fn["name"]: fn for fn in FUNCTIONS}
    lock = threading.Lock()
    cursor = [0]
    records = []
    t0 = time.monotonic() + 0.2
    deadline = t0 + items[-1][0] + 30 if items else t0

    def worker():
        conn = None
        while True:
            with lock:
                i = cursor[0]
                if i >= len(items):
                    break
                cursor[0] += 1
            at, name, phase = items[i]
            fn = by_name[name]
            wait = t0 + at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            rec = {"id": i, "function": name, "phase": phase, "ms": fn["ms"],
                   "scheduled_s": round(at, 6)}
            if time.monotonic() > deadline:
                rec.update(sent=False, status=0, error="past the driver's deadline")
                records.append(rec)
                continue
            path = f"/default/{name}?ms={fn['ms']}" + ("&spin=1" if fn["spin"] else "")
            sent = time.monotonic()
            rec.update(sent=True, late_s=round(sent - t0 - at, 6))
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                rec["status"] = r.status
                if r.status == 200:
                    try:
                        rec["handler_ns"] = int(body.strip())
                    except ValueError:
                        rec["error"] = "body is not a number: " + body[:80].decode(errors="replace")
                if (r.getheader("connection") or "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                rec["status"] = 0
                rec["error"] = f"{type(e).__name__}: {e}"
                if conn is not None:
                    conn.close()
                conn = None
            rec["latency_s"] = round(time.monotonic() - sent, 6)
            records.append(rec)
        if conn is not None:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records.sort(key=lambda r: r["id"])
    with open(log_path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    # The ground truth is what the log says, read back.
    with open(log_path) as f:
        return [json.loads(line) for line in f]


def ceil_ms(ns):
    return (ns + 999_999) // 1_000_000


def truth(log):
    """Per function, from the driver's log: calls, answers, and what they should bill.

    billed: each 2xx call's time by the handler's own clock as it answered, rounded up to 1 ms
    (what the function actually ran); ideal: N+1 ms each (N asked, plus the microseconds around
    the handler, while they stay under 1 ms)."""
    out = {}
    for fn in FUNCTIONS:
        rs = [r for r in log if r["function"] == fn["name"]]
        ok = [r for r in rs if 200 <= r.get("status", 0) < 300]
        gb = fn["bytes"] / GIB
        billed_ms = [ceil_ms(r["handler_ns"]) if "handler_ns" in r else fn["ms"] + 1 for r in ok]
        lat = sorted(r["latency_s"] for r in ok)
        late = sorted(r["late_s"] for r in rs if r.get("sent"))
        out[fn["name"]] = {
            "sent": sum(1 for r in rs if r.get("sent")),
            "not_sent": sum(1 for r in rs if not r.get("sent")),
            "answered": sum(1 for r in rs if r.get("status", 0) > 0),
            "ok": len(ok),
            "non_2xx": sum(1 for r in rs if r.get("status", 0) >= 300),
            "no_answer": sum(1 for r in rs if r.get("sent") and r.get("status", 0) == 0),
            "no_handler_time": sum(1 for r in ok if "handler_ns" not in r),
            "short": sum(1 for r in ok if r.get("handler_ns", 1 << 62) < fn["ms"] * 1_000_000),
            "billed_s": sum(billed_ms) / 1000,
            "gb_seconds": sum(billed_ms) / 1000 * gb,
            "gb_seconds_ideal": len(ok) * (fn["ms"] + 1) / 1000 * gb,
            "gb_seconds_asked": len(ok) * fn["ms"] / 1000 * gb,
            "over_n_plus_1": sum(1 for m in billed_ms if m > fn["ms"] + 1),
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else 0.0,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else 0.0,
            "late_p99_ms": late[min(len(late) - 1, int(len(late) * 0.99))] * 1000 if late else 0.0,
        }
    return out


# ---------------------------------------------------------------------------------------
# kubefn up


def get(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def invocations_by_function(metrics_text):
    out = {}
    pat = re.compile(r'^kubefn_function_invocations_total\{([^}]*)\}\s+(\S+)', re.M)
    for labels, value in pat.findall(metrics_text):
        m = re.search(r'function="([^"]*)"', labels)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + float(value)
    return out


def lifetimes(events_path):
    """Per function: replica runs, their lifetimes (spawned -> exited) and starting times
    (spawned -> ready, or -> exited when never ready), in seconds of the steady clock."""
    runs = {}
    with open(events_path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("event") not in ("spawned", "ready", "exited"):
                continue
            key = (e["namespace"], e["function"], e["replica"], e["run"])
            run = runs.setdefault(key, {})
            run[e["event"]] = e["steady_ns"]
            run["pid"] = e.get("pid")
    out = {}
    for (ns, name, _, _), r in runs.items():
        f = out.setdefault(name, {"runs": 0, "open": 0, "lifetime_s": 0.0, "starting_s": 0.0,
                                  "by_pid": {}})
        f["runs"] += 1
        if "spawned" not in r or "exited" not in r:
            f["open"] += 1
            continue
        f["lifetime_s"] += (r["exited"] - r["spawned"]) / 1e9
        f["starting_s"] += (r.get("ready", r["exited"]) - r["spawned"]) / 1e9
        f["by_pid"][r["pid"]] = (r["exited"] - r["spawned"]) / 1e9
    return out


class ProcessWatcher(threading.Thread):
    """The replicas as the kernel shows them, independently of the platform's events: every
    20 ms, the children of `parent` in /proc, each from its start time (stat field 22, clock
    ticks since boot, plus half a tick) to the middle of the poll interval in which it was
    first seen exited (a zombie, or gone). Steady-clock seconds per pid."""

    PERIOD = 0.02

    def __init__(self, parent):
        super().__init__(daemon=True)
        self.parent = parent
        self.stop = threading.Event()
        self.alive = {}   # pid -> start (monotonic seconds)
        self.lifetimes = {}  # pid -> seconds
        self.tick = os.sysconf("SC_CLK_TCK")

    def stat(self, pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return fields[0], int(fields[1]), int(fields[19])  # state, ppid, starttime

    def run(self):
        seen = set()
        last = time.monotonic()
        while True:
            now = time.monotonic()
            offset = time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
            pids = {int(p) for p in os.listdir("/proc") if p.isdigit()}
            for pid in pids - seen:
                st = self.stat(pid)
                if st and st[1] == self.parent and st[0] != "Z":
                    self.alive[pid] = (st[2] + 0.5) / self.tick - offset
            for pid in list(self.alive):
                st = self.stat(pid) if pid in pids else None
                if st is None or st[0] == "Z" or st[1] != self.parent:
                    self.lifetimes[pid] = (last + now) / 2 - self.alive.pop(pid)
            seen = pids
            last = now
            if self.stop.is_set() and not self.alive:
                return
            if self.stop.wait(self.PERIOD) and not self.alive:
                return


def accuracy(args, tmp):
    fdir = os.path.join(tmp, "functions")
    os.makedirs(fdir)
    for fn in FUNCTIONS:
        with open(os.path.join(fdir, fn["name"] + ".yaml"), "w") as f:
            f.write(manifest(fn))
    home = os.path.join(tmp, "home")
    out_path, err_path = os.path.join(tmp, "up.out"), os.path.join(tmp, "up.err")
    t_start = time.monotonic()
    up = subprocess.Popen([args.kubefn, "up", fdir, "--gateway-port", "0", "--metrics-port", "0",
                           "--runtime", args.runtime],
                          env={**os.environ, "KUBEFN_HOME": home}, stdout=open(out_path, "w"),
                          stderr=open(err_path, "w"), start_new_session=True)
    watcher = ProcessWatcher(up.pid)
    watcher.start()
    try:
        gport = mport = None
        end = time.monotonic() + 240
        while time.monotonic() < end and (gport is None or mport is None):
            with open(out_path) as f:
                text = f.read()
            g = re.search(r"kubefn: gateway http://127\.0\.0\.1:([0-9]+)", text)
            m = re.search(r"kubefn: metrics http://127\.0\.0\.1:([0-9]+)/metrics", text)
            gport = int(g.group(1)) if g else None
            mport = int(m.group(1)) if m else None
            if up.poll() is not None:
                break
            time.sleep(0.1)
        if gport is None or mport is None:
            sys.exit(f"kubefn up did not print its gateway and metrics URLs; see {err_path}")
        ready_s = time.monotonic() - t_start
        items, load_s = schedule(SEED)
        print(f"== accuracy: kubefn up ready in {ready_s:.1f} s (a fresh home: every function"
              f" built);"
              f" replaying {len(items)} calls over {load_s:.0f} s (seed {SEED},"
              f" rate x{RATE:g}, {WORKERS} keep-alive connections)", flush=True)
        t_load = time.monotonic()
        log = drive(gport, items, os.path.join(tmp, "driver.jsonl"))
        load_took = time.monotonic() - t_load
        want = truth(log)
        # Settled: every answered call counted, or nothing moving for 2 s (bounded).
        settle_start = time.monotonic()
        last, since = None, time.monotonic()
        while time.monotonic() - settle_start < 15:
            _, text = get(mport, "/metrics")
            seen = invocations_by_function(text)
            if all(seen.get(n, 0) >= want[n]["answered"] for n in want):
                break
            if seen != last:
                last, since = seen, time.monotonic()
            elif time.monotonic() - since > 2:
                break
            time.sleep(0.2)
        settle_s = time.monotonic() - settle_start
        _, metrics_text = get(mport, "/metrics")
        with open(os.path.join(tmp, "metrics.txt"), "w") as f:
            f.write(metrics_text)
        # Starting replicas the gateway found ready itself (its activation probe) before the
        # platform said so: calls they serve then are busy time while the platform's events
        # still say starting.
        probed_ready = sum(float(v) for v in re.findall(
            r'^kubefn_gateway_activation_probes_total\{[^}]*result="ready"[^}]*\}\s+(\S+)',
            metrics_text, re.M))
        _, live_text = get(mport, "/api/v1/cost?since=3600")
        live = {f["name"]: f for f in json.loads(live_text)["functions"]}
    finally:
        t_stop = time.monotonic()
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
        try:
            rc = up.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            rc = up.wait()
        stop_s = time.monotonic() - t_stop
        watcher.stop.set()
        watcher.join(timeout=5)
    if rc != 0:
        print(f"  kubefn up exited {rc}; see {err_path}")
    with open(os.path.join(home, "metering", "history.jsonl")) as f:
        lines = [line for line in f if line.strip()]
    final = {t["name"]: t for t in json.loads(lines[-1])["functions"]}
    life = lifetimes(os.path.join(home, "metering", "events.jsonl"))
    with open(err_path) as f:
        up_log = f.read()
    zero_to_one = len(re.findall(r"default/nap10 scaled 0 -> ", up_log))
    to_zero = len(re.findall(r"default/nap10 scaled [0-9]+ -> 0\b", up_log))
    observed = {"runs": 0, "unmatched": 0, "lifetime_s": 0.0, "events_s": 0.0,
                "max_diff_s": 0.0}
    by_pid = {pid: t for f in life.values() for pid, t in f.pop("by_pid").items()}
    for pid, t in watcher.lifetimes.items():
        if pid not in by_pid:
            observed["unmatched"] += 1
            continue
        observed["runs"] += 1
        observed["lifetime_s"] += t
        observed["events_s"] += by_pid[pid]
        observed["max_diff_s"] = max(observed["max_diff_s"], abs(t - by_pid[pid]))
    observed["missed"] = len(set(by_pid) - set(watcher.lifetimes))
    return {"want": want, "final": final, "live": live, "life": life, "observed": observed,
            "probed_ready": int(probed_ready),
            "ready_s": ready_s,
            "load_s": load_took, "settle_s": settle_s, "stop_s": stop_s, "up_rc": rc,
            "calls": len(items), "nap10_zero_to_one": zero_to_one, "nap10_to_zero": to_zero,
            "log": os.path.join(tmp, "driver.jsonl"), "home": home}


# ---------------------------------------------------------------------------------------
# Overhead


def cpu_ns(pid):
    """CPU time of the process's live threads, in ns (schedstat: finer than stat's ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited
    return total


def start_pattern(log, pattern, proc=None):
    """Waits (10 s at most) for `pattern` in the log; its first group as a number."""
    end = time.monotonic() + 10
    while time.monotonic() < end:
        with open(log) as f:
            m = re.search(pattern, f.read())
        if m:
            return proc, int(m.group(1))
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.01)
    if proc is not None:
        proc.kill()
    sys.exit(f"nothing matched {pattern} in {log}")


def start(argv, env, log):
    proc = subprocess.Popen(["taskset", "-c", SERVER_CPU] + argv, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    return start_pattern(log, r'"msg":"listening","port":([0-9]+)', proc)


def to_us(text):
    m = re.match(r"([0-9.]+)(us|ms|s)", text)
    return float(m.group(1)) * {"us": 1, "ms": 1000, "s": 1e6}[m.group(2)]


def wrk(url, seconds, connections=16):
    out = subprocess.run(
        ["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s",
         "--latency", url], capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses:\s+([0-9]+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1)),
            "requests": int(re.search(r"([0-9]+) requests in", out).group(1)),
            "p50_us": to_us(re.search(r"\s50%\s+([0-9.]+\w+)", out).group(1)),
            "p99_us": to_us(re.search(r"\s99%\s+([0-9.]+\w+)", out).group(1)),
            "errors": int(bad.group(1)) if bad else 0}


def header_of(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.getheader("kubefn-execution-ns")
    finally:
        conn.close()


# Two-sided 95% quantiles of Student's t by degrees of freedom (for the rounds' interval).
T95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}


def interval(ratios):
    """Geometric mean of the rounds' on/off ratios and its 95% interval."""
    logs = [math.log(r) for r in ratios if r > 0]
    if not logs:
        return 0.0, 0.0, 0.0
    m = statistics.mean(logs)
    if len(logs) < 2:
        return math.exp(m), 0.0, float("inf")
    half = T95.get(len(logs) - 1, 2.2) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(m), math.exp(m - half), math.exp(m + half)


def measure(runs, side, url, pids, seconds):
    before = sum(cpu_ns(p) for p in pids)
    r = wrk(url, seconds)
    r["cpu_us"] = (sum(cpu_ns(p) for p in pids) - before) / 1e3 / max(1, r["requests"])
    runs[side].append(r)
    return r


def summarise(label, runs, rounds):
    """runs: {"on": [...], "off": [...]} in A B B A order, 2 of each per round."""
    s = {}
    for side, rs in runs.items():
        s[side] = {
            "rps": round(statistics.mean(r["rps"] for r in rs)),
            "rps_runs": [round(r["rps"]) for r in rs],
            "p50_us": round(statistics.median(r["p50_us"] for r in rs), 1),
            "p99_us": round(statistics.median(r["p99_us"] for r in rs), 1),
            "cpu_us_per_request": round(statistics.mean(r["cpu_us"] for r in rs), 2),
            "errors": sum(r["errors"] for r in rs),
        }
    per_round, cpu_round = [], []
    for i in range(rounds):
        on, off = runs["on"][2 * i:2 * i + 2], runs["off"][2 * i:2 * i + 2]
        per_round.append(sum(r["rps"] for r in on) / max(1e-9, sum(r["rps"] for r in off)))
        cpu_round.append(statistics.mean(r["cpu_us"] for r in on) /
                         max(1e-9, statistics.mean(r["cpu_us"] for r in off)))
    ratio, low, high = interval(per_round)
    cpu, cpu_low, cpu_high = interval(cpu_round)
    s.update({"ratio": round(ratio, 3), "ratio_95_low": round(low, 3),
              "ratio_95_high": round(high, 3), "round_ratios": [round(r, 3) for r in per_round],
              "cpu_ratio": round(cpu, 3), "cpu_ratio_95_low": round(cpu_low, 3),
              "cpu_ratio_95_high": round(cpu_high, 3),
              "resolved": not (low < 0.97 < high)})
    print(f"  {label}")
    for side in ("on", "off"):
        x = s[side]
        print(f"    metering {side:<3}: {x['rps']:>8} rps  p50 {x['p50_us']:>7.1f} us"
              f"  p99 {x['p99_us']:>8.1f} us  CPU {x['cpu_us_per_request']:>5.1f} us/call"
              f"  non-2xx {x['errors']}  (runs {x['rps_runs']})")
    print(f"    on/off: throughput x{s['ratio']:.3f} (95% x{low:.3f}-x{high:.3f} over the rounds"
          f" {s['round_ratios']}), CPU per call x{cpu:.3f} (95% x{cpu_low:.3f}-x{cpu_high:.3f})",
          flush=True)
    return s


def overhead(args, tmp):
    """Each round starts fresh processes (so no one process's state decides), then measures
    (a) and (b), each A B B A."""
    base = {"FUNC_HANDLER": "greet", "MOD_NAME": "hello", "KUBEFN_FUNCTION_LIB": args.hello,
            "FUNC_PORT": "0", "KUBEFN_BIND_ADDRESS": "127.0.0.1"}
    off_env = {"runtime": {"KUBEFN_EXECUTION_HEADER": "0"},
               "gateway": {"KUBEFN_GATEWAY_METERING": "0"}}
    print(f"== overhead: metering on against off, wrk -t1 -c16 -d{OVERHEAD_SECONDS}s a run,"
          f" {OVERHEAD_REPS} rounds of fresh processes, each A B B A; server(s) on CPU"
          f" {SERVER_CPU}, wrk on CPU {CLIENT_CPU}", flush=True)
    runtime_runs = {"on": [], "off": []}
    gateway_runs = {"on": [], "off": []}
    checks = {}
    for rnd in range(OVERHEAD_REPS):
        procs = []
        try:
            sides = {}
            for side in (("on", "off") if rnd % 2 == 0 else ("off", "on")):
                rt_env = {**base, **(off_env["runtime"] if side == "off" else {})}
                rt, rport = start([args.runtime], rt_env,
                                  os.path.join(tmp, f"runtime-{side}-{rnd}.log"))
                procs.append(rt)
                log = os.path.join(tmp, f"gateway-{side}-{rnd}.log")
                gw, gport = start([args.gateway, "--port", "0", "--metrics-port", "0",
                                   "--threads", "1", "--route",
                                   f"default/hello=127.0.0.1:{rport};public"],
                                  off_env["gateway"] if side == "off" else {}, log)
                procs.append(gw)
                _, mport = start_pattern(log, r'"msg":"metrics listening","port":([0-9]+)')
                sides[side] = {"rt": rt, "rport": rport, "gw": gw, "gport": gport,
                               "mport": mport}
            for side, x in sides.items():
                wrk(f"http://127.0.0.1:{x['gport']}/default/hello", 1, 4)  # warm both
            if rnd == 0:
                on, off = sides["on"], sides["off"]
                checks = {
                    "runtime_on_header": header_of(on["rport"], "/") is not None,
                    "runtime_off_header": header_of(off["rport"], "/") is not None,
                    "gateway_strips_header": header_of(on["gport"], "/default/hello") is None,
                    "gateway_on_meters": "hello" in invocations_by_function(
                        get(on["mport"], "/metrics")[1]),
                    "gateway_off_meters": "hello" in invocations_by_function(
                        get(off["mport"], "/metrics")[1]),
                }
                print(f"  switches: kubefn-execution-ns sent with the header on"
                      f" {checks['runtime_on_header']}, off {checks['runtime_off_header']};"
                      f" calls metered by the gateway on {checks['gateway_on_meters']}, off"
                      f" {checks['gateway_off_meters']}; the header stripped by the gateway"
                      f" {checks['gateway_strips_header']}", flush=True)
            for side in ("on", "off", "off", "on"):
                x = sides[side]
                measure(runtime_runs, side, f"http://127.0.0.1:{x['rport']}/", [x["rt"].pid],
                        OVERHEAD_SECONDS)
            for side in ("on", "off", "off", "on"):
                x = sides[side]
                measure(gateway_runs, side, f"http://127.0.0.1:{x['gport']}/default/hello",
                        [x["gw"].pid, x["rt"].pid], OVERHEAD_SECONDS)
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    runtime = summarise("(a) kubefn-runtime directly: execution header on /"
                        " KUBEFN_EXECUTION_HEADER=0", runtime_runs, OVERHEAD_REPS)
    gateway = summarise("(b) kubefn-gateway -> kubefn-runtime: header and meter on / both off"
                        " (CPU: both processes')", gateway_runs, OVERHEAD_REPS)
    return {"runtime": runtime, "gateway": gateway, "checks": checks}


# ---------------------------------------------------------------------------------------


def pct(measured, reference):
    return (measured - reference) / reference * 100 if reference else 0.0


def mark(ok):
    return "PASS" if ok else "MISS"


def show_accuracy(acc):
    """Prints the per-function figures; returns them and the totals."""
    want, final, life, live = acc["want"], acc["final"], acc["life"], acc["live"]
    print(f"  load sent in {acc['load_s']:.1f} s; counters settled in {acc['settle_s']:.1f} s;"
          f" kubefn up stopped in {acc['stop_s']:.1f} s (exit {acc['up_rc']}); nap10 scaled"
          f" 0 -> 1 {acc['nap10_zero_to_one']}x and to 0 {acc['nap10_to_zero']}x")
    print(f"  driver log {acc['log']}; platform events {acc['home']}/metering/events.jsonl")
    print(f"  {'function':<8} {'memory':>6} {'work':>11} {'calls':>6} {'2xx':>6} {'metered':>8}"
          f" {'cold':>4} {'p50 ms':>7} {'p99 ms':>7} {'GB-s metered':>13} {'GB-s driver':>12}"
          f" {'dev':>8} {'GB-s N+1':>10} {'>N+1':>5}")
    rows = {}
    keys = ("answered", "ok", "no_answer", "non_2xx", "not_sent", "short", "no_handler_time",
            "metered", "metered_ok", "gbs", "gbs_want", "gbs_ideal", "gbs_asked", "billed",
            "billed_want", "over", "life", "replica", "live_replica", "starting",
            "starting_events", "busy", "idle", "runs", "open", "cold")
    tot = dict.fromkeys(keys, 0)
    for fn in FUNCTIONS:
        n = fn["name"]
        w, f = want[n], final.get(n, {})
        lf = life.get(n, {"runs": 0, "open": 0, "lifetime_s": 0.0, "starting_s": 0.0})
        inv = f.get("invocations", {})
        metered = sum(inv.get(k, 0) for k in ("success", "error", "timeout", "throttled"))
        rs = f.get("replica_seconds", {})
        replica = sum(rs.get(k, 0.0) for k in ("starting", "busy", "idle"))
        lrs = live.get(n, {}).get("replica_seconds", {})
        gbs = f.get("gb_seconds", 0.0)
        r = {"memory": fn["memory"], "ms": fn["ms"], "spin": fn["spin"], "calls": w["sent"],
             "answered": w["answered"], "ok": w["ok"], "metered": metered,
             "metered_success": inv.get("success", 0), "cold_starts": f.get("cold_starts", 0),
             "p50_ms": round(w["p50_ms"], 2), "p99_ms": round(w["p99_ms"], 2),
             "late_p99_ms": round(w["late_p99_ms"], 2),
             "billed_s_metered": round(f.get("billed_seconds", 0.0), 6),
             "billed_s_driver": round(w["billed_s"], 6),
             "gb_seconds_metered": round(gbs, 6), "gb_seconds_driver": round(w["gb_seconds"], 6),
             "gb_seconds_dev_pct": round(pct(gbs, w["gb_seconds"]), 4),
             "gb_seconds_ideal": round(w["gb_seconds_ideal"], 6),
             "gb_seconds_ideal_dev_pct": round(pct(gbs, w["gb_seconds_ideal"]), 4),
             "calls_over_n_plus_1": w["over_n_plus_1"],
             "replica_runs": lf["runs"], "lifetime_s": round(lf["lifetime_s"], 4),
             "replica_s": round(replica, 4), "starting_s": round(rs.get("starting", 0.0), 4),
             "busy_s": round(rs.get("busy", 0.0), 4), "idle_s": round(rs.get("idle", 0.0), 4),
             "starting_s_events": round(lf["starting_s"], 4),
             "replica_dev_pct": round(pct(replica, lf["lifetime_s"]), 4)}
        rows[n] = r
        work = f"{fn['ms']} ms {'spin' if fn['spin'] else 'sleep'}"
        print(f"  {n:<8} {fn['memory']:>6} {work:>11} {w['sent']:>6} {w['ok']:>6} {metered:>8}"
              f" {r['cold_starts']:>4} {w['p50_ms']:>7.2f} {w['p99_ms']:>7.2f} {gbs:>13.6f}"
              f" {w['gb_seconds']:>12.6f} {r['gb_seconds_dev_pct']:>+7.3f}%"
              f" {w['gb_seconds_ideal']:>10.6f} {w['over_n_plus_1']:>5}")
        for k in ("answered", "ok", "no_answer", "non_2xx", "not_sent", "short",
                  "no_handler_time"):
            tot[k] += w[k]
        tot["metered"] += metered
        tot["metered_ok"] += inv.get("success", 0)
        tot["cold"] += f.get("cold_starts", 0)
        tot["gbs"] += gbs
        tot["gbs_want"] += w["gb_seconds"]
        tot["gbs_ideal"] += w["gb_seconds_ideal"]
        tot["gbs_asked"] += w["gb_seconds_asked"]
        tot["billed"] += f.get("billed_seconds", 0.0)
        tot["billed_want"] += w["billed_s"]
        tot["over"] += w["over_n_plus_1"]
        tot["life"] += lf["lifetime_s"]
        tot["starting_events"] += lf["starting_s"]
        tot["replica"] += replica
        tot["live_replica"] += sum(lrs.get(k, 0.0) for k in ("starting", "busy", "idle"))
        for k in ("starting", "busy", "idle"):
            tot[k] += rs.get(k, 0.0)
        tot["runs"] += lf["runs"]
        tot["open"] += lf["open"]
    print(f"  (GB-s driver: each 2xx call's time by the handler's own clock, from its answer in"
          f" the driver's log, rounded up to 1 ms, x its memory limit in GB of 2^30 bytes;"
          f" GB-s N+1: N+1 ms each; >N+1: calls whose handler ran past N+1 ms)")
    print(f"  {'function':<8} {'runs':>5} {'lifetimes s':>12} {'metered s':>10} {'dev':>8}"
          f" {'starting':>9} {'(events)':>9} {'busy':>9} {'idle':>9}")
    for n, r in rows.items():
        print(f"  {n:<8} {r['replica_runs']:>5} {r['lifetime_s']:>12.3f} {r['replica_s']:>10.3f}"
              f" {r['replica_dev_pct']:>+7.3f}% {r['starting_s']:>9.3f}"
              f" {r['starting_s_events']:>9.3f} {r['busy_s']:>9.3f} {r['idle_s']:>9.3f}")
    print(f"  (lifetimes: spawned -> exited per replica run in the platform's events; metered:"
          f" starting+busy+idle from the history's last line; (events): spawned -> ready)",
          flush=True)
    return rows, tot


def summary(acc, rows, tot, ovh):
    inv_dev = tot["metered"] - tot["answered"]
    gbs_dev = pct(tot["gbs"], tot["gbs_want"])
    ideal_dev = pct(tot["gbs"], tot["gbs_ideal"])
    billed_dev = pct(tot["billed"], tot["billed_want"])
    rep_dev = pct(tot["replica"], tot["life"])
    start_dev = pct(tot["starting"], tot["starting_events"])
    rt, gw = ovh["runtime"], ovh["gateway"]
    goals = {
        "invocations_exact": inv_dev == 0 and tot["metered_ok"] == tot["ok"],
        "gb_seconds_within_0_5pct": abs(gbs_dev) <= 0.5,
        "replica_seconds_within_1pct": abs(rep_dev) <= 1.0 and tot["open"] == 0,
        "runtime_throughput_ratio_ge_0_97": rt["ratio"] >= 0.97,
    }

    def line(figure, measured, reference, deviation, goal):
        print(f"  {figure:<44} {measured:>13} {reference:>13} {deviation:>10}  {goal}")

    print("== figures against their goals (informational: the bench never fails on them)")
    line("figure", "measured", "reference", "deviation", "goal")
    line("invocations, all outcomes / 2xx (driver)", f"{tot['metered']} / {tot['metered_ok']}",
         f"{tot['answered']} / {tot['ok']}", f"{inv_dev:+d}",
         f"exact: {mark(goals['invocations_exact'])}")
    line("GB-s (driver: handler's clock, ceil 1 ms)", f"{tot['gbs']:.6f}",
         f"{tot['gbs_want']:.6f}", f"{gbs_dev:+.3f}%",
         f"+-0.5%: {mark(goals['gb_seconds_within_0_5pct'])}")
    line("billed seconds (same reference)", f"{tot['billed']:.3f}", f"{tot['billed_want']:.3f}",
         f"{billed_dev:+.3f}%", "")
    line("GB-s against N+1 ms per call", f"{tot['gbs']:.6f}", f"{tot['gbs_ideal']:.6f}",
         f"{ideal_dev:+.3f}%", f"({tot['over']} calls ran past N+1 ms)")
    line("replica-s starting+busy+idle (events)", f"{tot['replica']:.3f}", f"{tot['life']:.3f}",
         f"{rep_dev:+.3f}%", f"+-1%: {mark(goals['replica_seconds_within_1pct'])}")
    ob = acc["observed"]
    line("replica lifetimes: events / the kernel's", f"{ob['events_s']:.3f}",
         f"{ob['lifetime_s']:.3f}", f"{pct(ob['events_s'], ob['lifetime_s']):+.3f}%",
         f"({ob['runs']} runs seen in /proc, {ob['missed']} missed; worst run"
         f" {ob['max_diff_s'] * 1000:.0f} ms)")
    line("replica-s starting (events: to ready)", f"{tot['starting']:.3f}",
         f"{tot['starting_events']:.3f}", f"{start_dev:+.3f}%",
         f"({acc['probed_ready']} found ready first by the gateway's probe)")
    def resolved(x):
        return "" if x["resolved"] else " (not resolved: 95% interval" \
            f" x{x['ratio_95_low']:.3f}-x{x['ratio_95_high']:.3f} holds 0.97)"

    line("runtime rps, metering on / off", f"{rt['on']['rps']}", f"{rt['off']['rps']}",
         f"x{rt['ratio']:.3f}",
         f">=0.97x: {mark(goals['runtime_throughput_ratio_ge_0_97'])}{resolved(rt)}")
    line("runtime CPU us per call, on / off", f"{rt['on']['cpu_us_per_request']}",
         f"{rt['off']['cpu_us_per_request']}", f"x{rt['cpu_ratio']:.3f}",
         f"(95% x{rt['cpu_ratio_95_low']:.3f}-x{rt['cpu_ratio_95_high']:.3f})")
    line("runtime p50 / p99 us, on", f"{rt['on']['p50_us']} / {rt['on']['p99_us']}",
         f"{rt['off']['p50_us']} / {rt['off']['p99_us']}", "", "(off in the reference column)")
    line("gateway+runtime rps, metering on / off", f"{gw['on']['rps']}", f"{gw['off']['rps']}",
         f"x{gw['ratio']:.3f}", f"(>=0.97x: {mark(gw['ratio'] >= 0.97)}){resolved(gw)}")
    line("gateway+runtime CPU us per call, on / off", f"{gw['on']['cpu_us_per_request']}",
         f"{gw['off']['cpu_us_per_request']}", f"x{gw['cpu_ratio']:.3f}",
         f"(95% x{gw['cpu_ratio_95_low']:.3f}-x{gw['cpu_ratio_95_high']:.3f})")
    line("gateway+runtime p50 / p99 us, on", f"{gw['on']['p50_us']} / {gw['on']['p99_us']}",
         f"{gw['off']['p50_us']} / {gw['off']['p99_us']}", "", "(off in the reference column)")
    print(f"  driver: {tot['no_answer']} calls sent without an answer, {tot['non_2xx']} non-2xx,"
          f" {tot['not_sent']} not sent in time, {tot['short']} handlers under N ms,"
          f" {tot['no_handler_time']} 2xx without the handler's time; {tot['cold']} cold starts"
          f" metered; {tot['runs']} replica runs, {tot['open']} without an exit. The live"
          f" /api/v1/cost before the stop had {tot['live_replica']:.3f} replica-s: the replicas'"
          f" last seconds are only in the sample written at the stop. Asked for (N ms a call):"
          f" {tot['gbs_asked']:.6f} GB-s; the 1 ms rounding bills the rest.")
    return {
        "bench": "metering", "seed": SEED, "rate": RATE, "calls": acc["calls"],
        "ready_s": round(acc["ready_s"], 1), "load_s": round(acc["load_s"], 1),
        "invocations": {"metered": tot["metered"], "metered_success": tot["metered_ok"],
                        "driver_answered": tot["answered"], "driver_2xx": tot["ok"],
                        "driver_no_answer": tot["no_answer"], "deviation": inv_dev},
        "gb_seconds": {"metered": round(tot["gbs"], 6), "driver": round(tot["gbs_want"], 6),
                       "deviation_pct": round(gbs_dev, 4),
                       "n_plus_1": round(tot["gbs_ideal"], 6),
                       "n_plus_1_deviation_pct": round(ideal_dev, 4),
                       "asked": round(tot["gbs_asked"], 6), "calls_over_n_plus_1": tot["over"],
                       "billed_s_metered": round(tot["billed"], 6),
                       "billed_s_driver": round(tot["billed_want"], 6)},
        "replica_seconds": {"metered": round(tot["replica"], 4),
                            "lifetimes": round(tot["life"], 4),
                            "deviation_pct": round(rep_dev, 4),
                            "starting": round(tot["starting"], 4),
                            "starting_events": round(tot["starting_events"], 4),
                            "probed_ready_first": acc["probed_ready"],
                            "busy": round(tot["busy"], 4), "idle": round(tot["idle"], 4),
                            "live_before_stop": round(tot["live_replica"], 4),
                            "runs": tot["runs"], "runs_without_exit": tot["open"],
                            "events_vs_kernel": {
                                "events_s": round(ob["events_s"], 4),
                                "kernel_s": round(ob["lifetime_s"], 4),
                                "deviation_pct": round(pct(ob["events_s"], ob["lifetime_s"]), 4),
                                "runs": ob["runs"], "missed": ob["missed"],
                                "worst_run_ms": round(ob["max_diff_s"] * 1000, 1)}},
        "cold_starts": tot["cold"], "nap10_zero_to_one": acc["nap10_zero_to_one"],
        "nap10_to_zero": acc["nap10_to_zero"],
        "functions": rows,
        "overhead": {"seconds": OVERHEAD_SECONDS, "reps": OVERHEAD_REPS, "connections": 16,
                     "runtime": rt, "gateway": gw, "checks": ovh["checks"]},
        "goals": goals,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubefn", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--gateway", required=True)
    ap.add_argument("--hello", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="metering-bench-")
    acc = accuracy(args, tmp)
    rows, tot = show_accuracy(acc)
    ovh = overhead(args, tmp)
    print(json.dumps(summary(acc, rows, tot, ovh)))


if __name__ == "__main__":
    main()
