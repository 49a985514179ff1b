#!/usr/bin/env python3
"""Runs each libFuzzer target for its share of the time and reports what it did.

Each target runs in libFuzzer's fork mode (one job at a time) so that a crash is counted and
fuzzing goes on; the working corpus starts from the committed seeds and is kept in the build
directory, so successive runs build on each other.
"""
import argparse
import json
import os
import re
import subprocess
import sys

TARGETS = ["http_request", "chunked", "http_response", "function_spec", "manifest"]
# "#64791: cov: 273 ft: 389 corp: 72 exec/s 15124 oom/timeout/crash: 0/0/0 time: 5s job: 2 ..."
STATS = re.compile(r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s (\d+) "
                   r"oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s")


def run_target(build, seeds, target, seconds):
    binary = os.path.join(build, f"{target}_fuzzer")
    corpus = os.path.join(build, "corpus", target)
    artifacts = os.path.join(build, "artifacts")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    cmd = [binary, "-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1",
           f"-max_total_time={seconds}", "-timeout=10", "-rss_limit_mb=2048", "-max_len=16384",
           f"-artifact_prefix={artifacts}/{target}-", corpus, os.path.join(seeds, target)]
    before = set(os.listdir(artifacts))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", timeout=seconds + 120)
    last = None
    for line in proc.stdout.splitlines():
        m = STATS.match(line)
        if m:
            last = m
    new_artifacts = sorted(set(os.listdir(artifacts)) - before)
    r = {"seconds": seconds, "execs": 0, "exec_per_s": 0, "cov": 0, "features": 0,
         "corpus": len(os.listdir(corpus)), "crashes": 0, "timeouts": 0, "ooms": 0,
         "artifacts": [os.path.join(artifacts, a) for a in new_artifacts]}
    if last:
        execs, cov, ft, _, _, ooms, timeouts, crashes, elapsed = map(int, last.groups())
        r.update(execs=execs, cov=cov, features=ft, crashes=crashes, timeouts=timeouts, ooms=ooms,
                 exec_per_s=round(execs / max(elapsed, 1)))
    if proc.returncode != 0 and not last:
        r["crashes"] = max(r["crashes"], 1)  # did not even start fuzzing
        r["error"] = proc.stdout[-2000:]
    return r


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", required=True)
    parser.add_argument("--seeds", required=True)
    parser.add_argument("--seconds", type=int, default=600, help="total, split across targets")
    parser.add_argument("--targets", nargs="*", default=TARGETS)
    args = parser.parse_args()
    targets = args.targets or TARGETS
    share = max(1, args.seconds // len(targets))
    print(f"fuzz: {len(targets)} targets, {share}s each, clang-14 libFuzzer with "
          f"AddressSanitizer + UndefinedBehaviorSanitizer, {os.cpu_count()} CPUs", flush=True)
    results = {}
    for t in targets:
        results[t] = run_target(args.build, args.seeds, t, share)
        r = results[t]
        print(f"  {t}: {r['execs']} execs, {r['exec_per_s']}/s, cov {r['cov']}, "
              f"corpus {r['corpus']}, crashes {r['crashes']}", flush=True)
    print(f"{'target':14} {'seconds':>7} {'execs':>11} {'exec/s':>8} {'cov':>6} {'ft':>7} "
          f"{'corpus':>7} {'crash':>5} {'timeout':>7} {'oom':>4}")
    for t, r in results.items():
        print(f"{t:14} {r['seconds']:7d} {r['execs']:11d} {r['exec_per_s']:8d} {r['cov']:6d} "
              f"{r['features']:7d} {r['corpus']:7d} {r['crashes']:5d} {r['timeouts']:7d} "
              f"{r['ooms']:4d}")
    failed = {t: r for t, r in results.items() if r["crashes"] or r["timeouts"] or r["ooms"]}
    for t, r in failed.items():
        for a in r["artifacts"]:
            print(f"{t}: reproduce with {os.path.join(args.build, t + '_fuzzer')} {a}")
        if "error" in r:
            print(f"{t} did not run:\n{r['error']}")
    summary = {
        "bench": "fuzz",
        "seconds_total": args.seconds,
        "targets": {t: {k: v for k, v in r.items() if k not in ("artifacts", "error")}
                    for t, r in results.items()},
        "crashes": sum(r["crashes"] for r in results.values()),
        "timeouts": sum(r["timeouts"] for r in results.values()),
        "ooms": sum(r["ooms"] for r in results.values()),
    }
    print(json.dumps(summary, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
