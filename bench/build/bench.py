"""Measures kubefn-build against a real local registry (docker distribution).

Prints the cold build+push of examples/hello (fresh repository each repetition, median), the
unchanged rebuild (median), the base and hello images' compressed sizes, each against its goal,
the base's size without the load-report plugin (`--no-stats-plugin`) for reference, and the ratio of the cold build to a bare `g++` compile of the same source (the floor any
builder pays). The last line is JSON.
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPS = int(os.environ.get("BENCH_REPS", "3"))
GOALS = {"cold_s": 5.0, "rebuild_s": 0.3, "size_mb": 20.0}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(tmp):
    port = free_port()
    config = os.path.join(tmp, "registry.yml")
    with open(config, "w") as f:
        f.write(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {tmp}/data\nhttp:\n  addr: 127.0.0.1:{port}\n"
        )
    proc = subprocess.Popen(["docker-registry", "serve", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
            return proc, f"127.0.0.1:{port}"
        except OSError:
            if proc.poll() is not None:
                sys.exit("the registry exited")
            time.sleep(0.05)
    proc.kill()
    sys.exit("the registry did not start")


def run_json(argv):
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed: {r.stderr}")
    return json.loads(r.stdout), elapsed


def compressed_size(host, repo, ref):
    req = urllib.request.Request(
        f"http://{host}/v2/{repo}/manifests/{ref}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    manifest = json.load(urllib.request.urlopen(req, timeout=10))
    return sum(layer["size"] for layer in manifest["layers"]) + manifest["config"]["size"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--sdk-include", required=True)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="kubefn-bench-build-")
    registry, host = start_registry(tmp)
    try:
        base_out, base_s = run_json([args.build, "base", "--runtime", args.runtime,
                                     "--image", f"{host}/kubefn/runtime-cpp:bench", "--json"])
        base = f"{host}/kubefn/runtime-cpp:bench"
        # The same base without the load-report plugin and its gRPC libraries, for reference.
        minimal_out, minimal_s = run_json([args.build, "base", "--runtime", args.runtime,
                                           "--no-stats-plugin", "--image",
                                           f"{host}/kubefn/runtime-cpp:minimal", "--json"])

        # Floor: the same compile with no image work at all.
        compile_times = []
        for i in range(REPS):
            out = os.path.join(tmp, f"floor{i}.so")
            t0 = time.monotonic()
            subprocess.run(["g++", "-std=c++20", "-O2", "-fPIC", "-shared", "-fvisibility=hidden",
                            "-I", args.sdk_include, os.path.join(args.source, "hello.cpp"),
                            "-o", out], check=True)
            compile_times.append(time.monotonic() - t0)

        cold, cold_wall, digests = [], [], set()
        for i in range(REPS):
            out, wall = run_json([args.build, "function", "--source", args.source,
                                  "--handler", "hello.greet", "--base", base,
                                  "--image", f"{host}/fn/hello{i}", "--json"])
            assert not out["cached"], out
            cold.append(out["seconds"])
            cold_wall.append(wall)
            digests.add(out["digest"])
            last = out
        rebuild, rebuild_wall = [], []
        for _ in range(max(REPS, 5)):
            out, wall = run_json([args.build, "function", "--source", args.source,
                                  "--handler", "hello.greet", "--base", base,
                                  "--image", f"{host}/fn/hello0", "--json"])
            assert out["cached"] and out["uploaded"] == 0, out
            rebuild.append(out["seconds"])
            rebuild_wall.append(wall)

        base_bytes = compressed_size(host, "kubefn/runtime-cpp", "bench")
        minimal_bytes = compressed_size(host, "kubefn/runtime-cpp", "minimal")
        hello_bytes = compressed_size(host, "fn/hello0", last["tag"])
        fig = {
            "cold_build_push_s": round(statistics.median(cold_wall), 3),
            "cold_build_push_internal_s": round(statistics.median(cold), 3),
            "gxx_compile_s": round(statistics.median(compile_times), 3),
            "unchanged_rebuild_s": round(statistics.median(rebuild_wall), 3),
            "unchanged_rebuild_internal_s": round(statistics.median(rebuild), 3),
            "base_build_push_s": round(base_s, 3),
            "base_compressed_mb": round(base_bytes / 1e6, 2),
            "base_stats_plugin": base_out.get("statsPlugin", ""),
            "base_minimal_compressed_mb": round(minimal_bytes / 1e6, 2),
            "base_minimal_build_push_s": round(minimal_s, 3),
            "hello_compressed_mb": round(hello_bytes / 1e6, 2),
            "hello_layer_bytes": hello_bytes - base_bytes,
            "same_digest_every_cold_build": len(digests) == 1,
            "reps": REPS,
        }
        fig["cold_over_compile"] = round(fig["cold_build_push_s"] / fig["gxx_compile_s"], 2)
        fig["base_over_minimal"] = round(base_bytes / minimal_bytes, 2)
        fig["rebuild_over_cold"] = round(fig["unchanged_rebuild_s"] / fig["cold_build_push_s"], 3)

        def line(name, value, unit, goal):
            verdict = "ok" if value <= goal else "OVER"
            print(f"{name:<34} {value:>8} {unit:<3} goal <= {goal} {unit}  {verdict}")

        print(f"kubefn-build, examples/hello, registry {host}, median of {REPS}")
        line("cold build + push (wall)", fig["cold_build_push_s"], "s", GOALS["cold_s"])
        line("unchanged rebuild (wall)", fig["unchanged_rebuild_s"], "s", GOALS["rebuild_s"])
        line("base image, compressed", fig["base_compressed_mb"], "MB", GOALS["size_mb"])
        line("hello image, compressed", fig["hello_compressed_mb"], "MB", GOALS["size_mb"])
        print(f"{'base without the stats plugin':<34} {fig['base_minimal_compressed_mb']:>8} MB")
        print(f"{'base / base without the plugin':<34} {fig['base_over_minimal']:>8} x")
        print(f"{'bare g++ compile of hello.cpp':<34} {fig['gxx_compile_s']:>8} s")
        print(f"{'cold build / bare compile':<34} {fig['cold_over_compile']:>8} x")
        print(f"{'rebuild / cold build':<34} {fig['rebuild_over_cold']:>8} x")
        print(f"{'function layer':<34} {fig['hello_layer_bytes']:>8} bytes")
        print(f"{'identical digest every cold build':<34} {str(fig['same_digest_every_cold_build']):>8}")
        print(json.dumps(fig))
    finally:
        registry.kill()
        registry.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
