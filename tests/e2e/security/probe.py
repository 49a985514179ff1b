"""The attacker's probe of `kubefn up`, repeated as a test.

Starts `kubefn up` on the examples plus one probe Function, then tries what an attacker on the
same machine would: the API without a credential, a rebound Host, a text/plain POST, a host
route onto the gateway's own name, a token forwarded to function code, a scoped token used
elsewhere, unauthenticated uploads, framing tricks, the metrics of every function. Each
attempt is checked against the answer the platform must give; a table of what was sent and
what came back goes to stdout (docs/security.md quotes it). Exit 1 when any answer is wrong.

Usage: probe.py --kubefn BIN --runtime BIN --source DIR
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

PROBE_FUNCTION = """apiVersion: kubefn.dev/v1alpha1
kind: Function
metadata:
  name: probe
  namespace: default
spec:
  handler: probe.run
  timeout: 5
  source:
    inline: |
      // Answers with the request's method, target and headers, as function code sees them.
      #include <kubefn/function.hpp>
      #include <string>

      kubefn::Response run(const kubefn::Event& e, kubefn::Context&) {
        std::string out = std::string(e.method) + " " + std::string(e.path) + "?" +
                          std::string(e.query) + "\\n";
        for (const auto& h : e.headers) {
          out += std::string(h.name) + ": " + std::string(h.value) + "\\n";
        }
        kubefn::Response r;
        r.body = out;
        r.headers.emplace_back("content-type", "text/plain");
        return r;
      }
      KUBEFN_HANDLER(run);
  triggers:
    http:
      host: localhost
"""

RESULTS = []


def check(name, sent, answer, ok):
    RESULTS.append((name, sent, answer, ok))
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {answer}", file=sys.stderr, flush=True)


def raw(port, data, read_timeout=10.0, half_close=False):
    """Sends bytes, returns every byte the server sent until it closed or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    s.sendall(data)
    if half_close:
        s.shutdown(socket.SHUT_WR)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and not half_close:
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length: *([0-9]+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(reply):
    m = re.match(rb"HTTP/1\.[01] ([0-9]{3})", reply)
    return int(m.group(1)) if m else 0


def first_line(reply):
    return reply.split(b"\r\n", 1)[0].decode(errors="replace")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Api:
    def __init__(self, url, ca_file):
        m = re.match(r"https://([^:/]+):([0-9]+)", url)
        self.host, self.port = m.group(1), int(m.group(2))
        self.ctx = ssl.create_default_context(cafile=ca_file)

    def call(self, method, path, body=None, headers=None, token=None):
        c = http.client.HTTPSConnection(self.host, self.port, timeout=30, context=self.ctx)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kubefn", required=True)
    ap.add_argument("--runtime", required=True)
    ap.add_argument("--source", required=True)
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="kubefn-probe-")
    home = os.path.join(work, "home")
    fns = os.path.join(work, "functions")
    os.makedirs(fns)
    for ex in ("hello", "echo"):
        shutil.copy(os.path.join(args.source, "examples", ex, "function.yaml"),
                    os.path.join(fns, ex + ".yaml"))
    with open(os.path.join(fns, "probe.yaml"), "w") as f:
        f.write(PROBE_FUNCTION)
    # A token scoped to default/echo only, beside the platform's admin token.
    keys = os.path.join(work, "keys")
    scoped = "scoped-" + os.urandom(12).hex()
    up_out = open(os.path.join(work, "up.out"), "w")
    up_err = open(os.path.join(work, "up.err"), "w")
    up = None
    try:
        # The admin token is generated in the home; the keys file adds the scoped one.
        os.makedirs(home)
        admin = "admin-" + os.urandom(12).hex()
        with open(keys, "w") as f:
            f.write(f"{admin}\n{scoped} default/echo\n")
        up = subprocess.Popen(
            [args.kubefn, "up", fns, "--home", home, "--gateway-port", "0", "--metrics-port", "0",
             "--api-port", "0", "--runtime", args.runtime, "--keys-file", keys,
             "--activation-timeout", "30"],
            stdout=up_out, stderr=up_err, env=dict(os.environ, KUBEFN_HOME=home))
        gateway = api_url = None
        deadline = time.time() + 180
        while time.time() < deadline and up.poll() is None:
            text = open(os.path.join(work, "up.out")).read()
            g = re.search(r"kubefn: gateway http://127\.0\.0\.1:([0-9]+)", text)
            a = re.search(r"kubefn: api (https://127\.0\.0\.1:[0-9]+)", text)
            if g and a:
                gateway, api_url = int(g.group(1)), a.group(1)
                break
            time.sleep(0.2)
        if gateway is None:
            print("kubefn up did not come up:\n" + open(os.path.join(work, "up.err")).read(),
                  file=sys.stderr)
            return 1
        platform_token = open(os.path.join(home, "token")).read().strip()
        kubeconfig = open(os.path.join(home, "kubeconfig")).read()
        ca = re.search(r"certificate-authority-data: *(\S+)", kubeconfig)
        ca_file = os.path.join(work, "ca.pem")
        import base64
        with open(ca_file, "wb") as f:
            f.write(base64.b64decode(ca.group(1)))
        api = Api(api_url, ca_file)
        fn_path = "/apis/kubefn.dev/v1alpha1/namespaces/default/functions"
        manifest = json.dumps({"apiVersion": "kubefn.dev/v1alpha1", "kind": "Function",
                               "metadata": {"name": "intruder"},
                               "spec": {"handler": "x.run", "image": "registry.local/x:1"}})

        # 2. The API asks for the platform token, a known Host and a JSON/YAML body.
        st, _ = api.call("POST", fn_path, manifest, {"Content-Type": "application/json"})
        check("API without a credential", "POST a Function, no Authorization", st, st == 401)
        st, _ = api.call("POST", fn_path, manifest, {"Content-Type": "text/plain"},
                         token=platform_token)
        check("API, text/plain body (a web page's simple POST)",
              "POST Content-Type: text/plain, with the token", st, st == 415)
        st, _ = api.call("GET", fn_path, None, {"Host": f"attacker.example:{api.port}"},
                         token=platform_token)
        check("API, rebound DNS name", "GET with Host: attacker.example", st, st == 403)
        st, _ = api.call("GET", fn_path, None, token=platform_token)
        check("API with the platform token", "GET functions", st, st == 200)
        mode = os.stat(os.path.join(home, "token")).st_mode & 0o777
        kmode = os.stat(os.path.join(home, "kubeconfig")).st_mode & 0o777
        check("token and kubeconfig files", "stat", f"{mode:o} and {kmode:o}",
              mode == 0o600 and kmode == 0o600)

        # 1. The probe Function claims host localhost, one of the gateway's own names.
        deadline = time.time() + 120
        cond = {}
        while time.time() < deadline:
            st, body = api.call("GET", fn_path + "/probe", token=platform_token)
            conds = json.loads(body).get("status", {}).get("conditions", []) if st == 200 else []
            cond = next((c for c in conds if c.get("type") == "Ready"), {})
            if cond.get("reason") in ("HostNotAllowed", "InvalidTrigger"):
                break
            time.sleep(0.2)
        check("host route onto the gateway's own name",
              "Function with spec.triggers.http.host: localhost",
              f"Ready={cond.get('status')} {cond.get('reason')}",
              cond.get("reason") == "HostNotAllowed")
        thief = json.dumps({"apiVersion": "kubefn.dev/v1alpha1", "kind": "Function",
                            "metadata": {"name": "thief"},
                            "spec": {"handler": "echo.echo", "source": {"inline": "x"},
                                     "triggers": {"http": {"host": "127.0.0.1"}}}})
        st, _ = api.call("POST", fn_path, thief, {"Content-Type": "application/json"},
                         token=platform_token)
        cond = {}
        deadline = time.time() + 60
        while st == 201 and time.time() < deadline:
            st2, body = api.call("GET", fn_path + "/thief", token=platform_token)
            conds = json.loads(body).get("status", {}).get("conditions", []) if st2 == 200 else []
            cond = next((c for c in conds if c.get("type") == "Ready"), {})
            if cond.get("reason"):
                break
            time.sleep(0.2)
        check("host route onto the gateway's address", "Function with host: 127.0.0.1",
              f"created {st}; Ready={cond.get('status')} {cond.get('reason')}",
              cond.get("reason") == "InvalidTrigger")
        r = raw(gateway, f"POST /default/echo HTTP/1.1\r\nHost: localhost:{gateway}\r\n"
                         f"Authorization: Bearer {admin}\r\nContent-Length: 2\r\n\r\nhi"
                .encode())
        check("a call with Host: localhost still reaches the function it names",
              "POST /default/echo, Host localhost, token", first_line(r),
              status_of(r) == 200 and r.endswith(b"hi"))
        r = raw(gateway, f"GET /anything HTTP/1.1\r\nHost: localhost:{gateway}\r\n\r\n".encode())
        check("the refused host routes nothing", "GET /anything, Host localhost",
              first_line(r), status_of(r) == 404)

        # 3. Credentials stay with the gateway; scopes hold.
        r = raw(gateway, f"GET /default/probe/x?q=1 HTTP/1.1\r\nHost: h\r\n"
                         f"Authorization: Bearer {admin}\r\n\r\n".encode())
        check("the caller's token reaching function code", "GET /default/probe/x with a token",
              first_line(r) + ("; function saw the token" if admin.encode() in r.split(b"\r\n\r\n", 1)[-1]
                               else "; function saw no Authorization"),
              status_of(r) == 200 and admin.encode() not in r.split(b"\r\n\r\n", 1)[-1])
        r = raw(gateway, b"GET /default/probe/x HTTP/1.1\r\nHost: h\r\n\r\n")
        check("private function without a token", "GET /default/probe/x", first_line(r),
              status_of(r) == 401)
        r = raw(gateway, f"GET /default/probe/x HTTP/1.1\r\nHost: h\r\n"
                         f"Authorization: Bearer {scoped}\r\n\r\n".encode())
        check("a token scoped to default/echo, at default/probe", "GET /default/probe/x",
              first_line(r), status_of(r) == 403)
        r = raw(gateway, f"POST /default/echo HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
                         f"Authorization: Bearer {scoped}\r\n\r\nok".encode())
        check("the same token at default/echo", "POST /default/echo", first_line(r),
              status_of(r) == 200)

        # 7. spec.triggers.http.path.
        r = raw(gateway, b"GET /hello/?name=path HTTP/1.1\r\nHost: h\r\n\r\n")
        check("spec.triggers.http.path", "GET /hello/?name=path", first_line(r),
              status_of(r) == 200)

        # 4. Unauthenticated uploads: refused from the head, nothing buffered.
        before = rss_kib(up.pid)
        socks = []
        refused = 0
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", gateway), timeout=10)
            s.sendall(b"POST /default/echo HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                      b"Content-Length: 8388608\r\n\r\n")
            head = s.recv(4096)
            refused += status_of(head) == 401
            try:
                s.sendall(b"x" * (8 << 20))
            except OSError:
                pass
            socks.append(s)
        after = rss_kib(up.pid)
        for s in socks:
            s.close()
        check("20 unauthenticated 8 MiB uploads with Expect: 100-continue",
              "POST /default/echo, no token", f"{refused}/20 answered 401 before any body; "
              f"RSS {before // 1024} -> {after // 1024} MiB",
              refused == 20 and after - before < 64 * 1024)

        # 10. Framing.
        r = raw(gateway, b"GET /default/probe/ HTTP/1.1\r\n\r\n")
        check("HTTP/1.1 without Host", "GET /default/probe/", first_line(r), status_of(r) == 400)
        r = raw(gateway, b"GET /default/probe/ HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        check("two Host headers", "GET /default/probe/", first_line(r), status_of(r) == 400)
        r = raw(gateway, b"GET http://h/default/probe/p?keep=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + admin.encode() + b"\r\n\r\n")
        check("absolute-form target keeps its query", "GET http://h/default/probe/p?keep=1",
              first_line(r) + (" (function saw ?keep=1)" if b"?keep=1" in r else ""),
              status_of(r) == 200 and b"GET /p?keep=1" in r)
        r = raw(gateway, b"GET /default/probe/ HTTP/1.1\r\nHost: h\r\nConnection: Host\r\nAuthorization: Bearer " + admin.encode() + b"\r\n\r\n")
        check("Connection: Host", "GET /default/probe/", "function saw host: h"
              if b"\nhost: h\n" in r else "function saw no Host", b"\nhost: h\n" in r)
        r = raw(gateway, b"HEAD /default/hello?name=x HTTP/1.1\r\nHost: h\r\n"
                         b"Authorization: Bearer " + admin.encode() + b"\r\n\r\n",
                read_timeout=3)
        m = re.search(rb"(?i)content-length: *([0-9]+)", r)
        check("HEAD keeps the length GET would send", "HEAD /default/hello",
              f"content-length: {m.group(1).decode() if m else 'none'}",
              status_of(r) == 200 and m is not None and int(m.group(1)) > 0)
        r = raw(gateway, b"GET /metrics HTTP/1.1\r\nHost: h\r\n\r\n")
        check("gateway /metrics on the public port", "GET /metrics", first_line(r),
              status_of(r) == 404)
        r = raw(gateway, b"GET /default/probe/metrics HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + admin.encode() + b"\r\n\r\n")
        check("a replica's /metrics through a function's path", "GET /default/probe/metrics",
              first_line(r), status_of(r) == 404)
        r = raw(gateway, b"GET /default/probe/healthz HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + admin.encode() + b"\r\n\r\n")
        check("a replica's /healthz through a function's path", "GET /default/probe/healthz",
              first_line(r), status_of(r) == 404)
    finally:
        if up is not None and up.poll() is None:
            up.send_signal(signal.SIGTERM)
            try:
                rc = up.wait(timeout=60)
            except subprocess.TimeoutExpired:
                up.kill()
                rc = -9
            check("stop", "SIGTERM", f"exit {rc}", rc == 0)
        up_out.close()
        up_err.close()

    print("| probe | sent | answer | |")
    print("| --- | --- | --- | --- |")
    for name, sent, answer, ok in RESULTS:
        print(f"| {name} | {sent} | {answer} | {'ok' if ok else '**wrong**'} |")
    failed = [r for r in RESULTS if not r[3]]
    if failed:
        print("up.err:\n" + open(os.path.join(work, "up.err")).read()[-4000:], file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
