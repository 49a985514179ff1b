# A real node for scripts/cluster (sourced by it): containerd and runc from the distribution,
# the pinned kubelet and kube-proxy, CoreDNS, a bridge pod network from the distribution's CNI
# plugins, and the registry every image of the node comes from. docs/cluster.md, "A real
# node", says why each setting is what it is.
#
# Addresses: the pods' subnet $NODE_SUBNET sits on the bridge $NODE_BRIDGE, whose address
# $NODE_IP is the node's: the kubelet, the API server, the registry and the cluster DNS listen
# there, so pods reach them and nothing outside this machine can. The bridge plugin turns IP
# forwarding on; before any pod starts, two rules drop whatever would be forwarded between the
# bridge and another interface, so pod traffic never leaves the machine.

NODE_COMPONENTS="docker-registry containerd kubelet kube-proxy coredns"
NODE_CNI=/usr/lib/cni
# Sockets and containerd's state: a short path of their own (a Unix socket path is at most
# 107 bytes), one per state folder.
node_run_dir() { echo "/run/kubefn-node-$(printf '%s' "$STATE" | sha256sum | cut -c1-10)"; }

registry_address() { echo "$NODE_IP:$(cat "$STATE/run/ports/docker-registry")"; }

registry_line() {
  real_node || die "no real node in $STATE (scripts/cluster up --real-node starts one)"
  running || die "the cluster in $STATE is not running"
  registry_address
}

node_preflight() {
  local p missing=()
  (($(id -u) == 0)) || die "a real node needs root: the kubelet and containerd manage cgroups, mounts and network namespaces"
  for p in containerd containerd-shim-runc-v2 runc docker-registry iptables ip; do
    command -v "$p" >/dev/null || missing+=("$p")
  done
  for p in bridge host-local loopback portmap; do
    [[ -x "$NODE_CNI/$p" ]] || missing+=("$NODE_CNI/$p")
  done
  ((${#missing[@]} == 0)) || die "a real node needs ${missing[*]} (scripts/setup installs them)"
  [[ -c /dev/kmsg ]] || die "a real node needs /dev/kmsg (the kubelet's OOM watcher reads it)"
  [[ -z "$(tail -n +2 /proc/swaps)" ]] || die "a real node needs swap off (swapoff -a)"
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && node_reclaim
  return 0
}

# The bridge is there: another real node runs on this machine (refused), or one that stopped
# without scripts/cluster down (its run was killed) left its network, mounts and run folder
# behind, which are removed. A node runs while a process of its run folder or a component of
# its state folder is alive.
node_reclaim() {
  local run owner pid f
  for run in /run/kubefn-node-*; do
    [[ -d "$run" ]] || continue
    owner="$(cat "$run/state" 2>/dev/null || true)"
    # (containers' shims outlive a killed containerd: they do not make a node run)
    for pid in $(pgrep -f -- "$run/" 2>/dev/null); do
      [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == containerd-shim* ]] && continue
      die "$NODE_BRIDGE is in use: a real node runs on this machine${owner:+ (state folder $owner)}; only one can (scripts/cluster down in its state folder)"
    done
    if [[ -n "$owner" && -d "$owner/run" ]]; then
      f="$(STATE="$owner"; for c in $(components); do alive "$c" && { echo "$c"; break; }; done; true)"
      [[ -z "$f" ]] ||
        die "$NODE_BRIDGE is in use: the cluster in $owner still runs $f (scripts/cluster down there)"
    fi
  done
  say "$NODE_BRIDGE is left from a real node that no longer runs: removing what it left"
  for run in /run/kubefn-node-*; do
    [[ -d "$run" ]] || continue
    owner="$(cat "$run/state" 2>/dev/null || true)"
    if [[ -n "$owner" && -d "$owner/run" ]]; then
      (STATE="$owner"; node_stop) || true
    else
      for pid in $(pgrep -f -- "-address $run/containerd.sock" 2>/dev/null); do
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
      done
      for f in $(findmnt -rn -o TARGET | grep -E "^$run/" | sort -r); do umount -l "$f" 2>/dev/null || true; done
      rm -rf "$run"
    fi
  done
  node_network_down
}

# Forwarding between the bridge and any other interface is dropped, in the table that sees
# packets before kube-proxy's and the CNI plugins' accept rules do.
NODE_FORWARD_RULES=(
  "-i $NODE_BRIDGE ! -o $NODE_BRIDGE -m comment --comment kubefn-node-stays-local -j DROP"
  "! -i $NODE_BRIDGE -o $NODE_BRIDGE -m comment --comment kubefn-node-stays-local -j DROP"
)

node_network() {
  local rule
  ip link add "$NODE_BRIDGE" type bridge
  ip addr add "$NODE_IP/${NODE_SUBNET#*/}" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  for rule in "${NODE_FORWARD_RULES[@]}"; do
    # shellcheck disable=SC2086
    iptables -t mangle -I FORWARD 1 $rule
  done
}

node_network_down() {
  local rule t c
  for rule in "${NODE_FORWARD_RULES[@]}"; do
    # shellcheck disable=SC2086
    while iptables -t mangle -D FORWARD $rule 2>/dev/null; do :; done
  done
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  # The kubelet's own chains (kube-proxy --cleanup leaves them).
  while iptables -D INPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  while iptables -D OUTPUT -j KUBE-FIREWALL 2>/dev/null; do :; done
  for t in filter nat mangle; do
    for c in KUBE-FIREWALL KUBE-KUBELET-CANARY; do
      iptables -t "$t" -F "$c" 2>/dev/null && iptables -t "$t" -X "$c" 2>/dev/null || true
    done
  done
  # The pods' cgroups, empty once their processes are gone (deepest first).
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
}

configure_node() {
  local run p
  run="$(node_run_dir)"
  mkdir -p "$run" "$STATE/registry" "$STATE/containerd/certs.d" "$STATE/cni/net.d" \
    "$STATE/cni/ipam" "$STATE/kubelet"
  echo "$STATE" >"$run/state"  # whose node this is (node_reclaim)
  for p in docker-registry kubelet kubelet-healthz kube-proxy-healthz kube-proxy-metrics \
    coredns-health coredns-ready; do
    free_port >"$STATE/run/ports/$p"
  done
  command -v docker-registry >"$STATE/run/docker-registry.exe"
  command -v containerd >"$STATE/run/containerd.exe"
  local registry
  registry="$(registry_address)"

  # The registry: plain HTTP on the bridge address, no authentication, its storage in the
  # state folder.
  cat >"$STATE/registry.yaml" <<EOC
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $STATE/registry}
  delete: {enabled: true}
http:
  addr: $registry
EOC
  args docker-registry serve "$STATE/registry.yaml"

  # containerd pulls from that registry over plain HTTP, and names of the public registries
  # resolve to it too: no image of this node comes from elsewhere.
  local host
  for host in "$registry" docker.io registry.k8s.io quay.io ghcr.io gcr.io; do
    mkdir -p "$STATE/containerd/certs.d/$host"
    cat >"$STATE/containerd/certs.d/$host/hosts.toml" <<EOC
server = "http://$registry"
[host."http://$registry"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
EOC
  done
  cat >"$STATE/containerd/config.toml" <<EOC
version = 2
root = "$STATE/containerd/root"
state = "$run/containerd"
[grpc]
  address = "$run/containerd.sock"
[ttrpc]
  address = "$run/containerd.sock.ttrpc"
[debug]
  level = "warn"
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$registry/kubefn/pause:$NODE_PAUSE_TAG"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  tolerate_missing_hugetlb_controller = true
  # The kernel here refuses a negative oom_score_adj even to root (runc then fails with
  # "can't get final child's PID from pipe"); keep pods' at or above containerd's own.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$NODE_CNI"
    conf_dir = "$STATE/cni/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$STATE/containerd/certs.d"
EOC
  args containerd --config "$STATE/containerd/config.toml"

  cat >"$STATE/cni/net.d/10-kubefn.conflist" <<EOC
{
  "cniVersion": "1.0.0",
  "name": "kubefn",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false,
      "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam",
               "ranges": [[{"subnet": "$NODE_SUBNET", "gateway": "$NODE_IP"}]],
               "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOC

  cat >"$STATE/kubelet.yaml" <<EOC
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $(cat "$STATE/run/ports/kubelet")
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $(cat "$STATE/run/ports/kubelet-healthz")
tlsCertFile: $STATE/pki/kubelet.crt
tlsPrivateKeyFile: $STATE/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$run/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
clusterDNS: [$NODE_IP]
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {nodefs.available: "0%", nodefs.inodesFree: "0%", imagefs.available: "0%"}
rotateCertificates: false
serverTLSBootstrap: false
nodeStatusReportFrequency: 10s
syncFrequency: 10s
maxPods: 110
EOC
  args kubelet --config="$STATE/kubelet.yaml" --kubeconfig="$STATE/kubelet.kubeconfig" \
    --root-dir="$STATE/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --v=1

  cat >"$STATE/kube-proxy.yaml" <<EOC
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $STATE/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $NODE_SUBNET
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$(cat "$STATE/run/ports/kube-proxy-healthz")
metricsBindAddress: 127.0.0.1:$(cat "$STATE/run/ports/kube-proxy-metrics")
nodePortAddresses: [$NODE_IP/32]
conntrack: {maxPerCore: 0}
EOC
  args kube-proxy --config="$STATE/kube-proxy.yaml"

  # Cluster DNS for the names the kubelet's pods look up (Services and pods of
  # cluster.local); every other name is refused: nothing is forwarded off the machine.
  cat >"$STATE/Corefile" <<EOC
cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
  bind $NODE_IP
  errors
  health 127.0.0.1:$(cat "$STATE/run/ports/coredns-health")
  ready 127.0.0.1:$(cat "$STATE/run/ports/coredns-ready")
  kubernetes cluster.local in-addr.arpa ip6.arpa {
    kubeconfig $STATE/coredns.kubeconfig kubefn-test
    pods insecure
  }
  cache 5
  loadbalance
}
.:53 {
  bind $NODE_IP
  errors
  template ANY ANY {
    rcode REFUSED
  }
}
EOC
  args coredns -conf "$STATE/Corefile"
}

# What CoreDNS and kube-proxy may read (kube-proxy's role is built in: system:node-proxier).
node_rbac() {
  kubectl apply -f - >/dev/null <<'EOC'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "kubefn:coredns"}
rules:
- apiGroups: [""]
  resources: [endpoints, services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubefn:coredns"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "kubefn:coredns"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:coredns"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "kubefn:kube-proxy"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:node-proxier"}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:kube-proxy"}
EOC
}

# The pause image every pod's sandbox runs, built here (scripts/images) and pushed to the
# node's registry before containerd needs it.
NODE_PAUSE_TAG=3.10-kubefn

node_start() {
  start docker-registry
  node_wait docker-registry
  node_push_pause
  node_rbac
  start containerd
  node_wait containerd
  start kubelet
  start kube-proxy
  start coredns
  node_wait kubelet
  node_wait kube-proxy
  node_wait coredns
}

# Waits until the node's component $1 answers.
node_wait() {
  case "$1" in
    docker-registry) wait_for docker-registry 30 curl -fsS --max-time 2 "http://$(registry_address)/v2/" ;;
    containerd) wait_for containerd 30 test -S "$(node_run_dir)/containerd.sock" ;;
    kubelet) wait_for kubelet 120 kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s ;;
    kube-proxy) wait_for kube-proxy 60 curl -fsS --max-time 2 "http://127.0.0.1:$(cat "$STATE/run/ports/kube-proxy-healthz")/healthz" ;;
    coredns) wait_for coredns 60 curl -fsS --max-time 2 "http://127.0.0.1:$(cat "$STATE/run/ports/coredns-ready")/ready" ;;
  esac
}

# scripts/images build with the node's registry: from $KUBEFN_BUILD_DIR (default build/, the
# optimised build), compiled first unless KUBEFN_IMAGES_PREBUILT=1 (the tests' build tree is
# built before they run).
node_images() {
  local flags=(--registry "$(registry_address)" --plain-http --build-dir "${KUBEFN_BUILD_DIR:-$ROOT/build}")
  [[ "${KUBEFN_IMAGES_PREBUILT:-0}" == 1 ]] && flags+=(--prebuilt)
  "$ROOT/scripts/images" build "${flags[@]}" "$@"
}

node_push_pause() {
  local out
  if ! out="$(node_images --tag "$NODE_PAUSE_TAG" --only pause 2>&1)"; then
    say "the pause image could not be built and pushed:"
    echo "$out" >&2
    return 1
  fi
}

# Every container of the node, then the node's programs; then what they left: mounts,
# network namespaces, kube-proxy's rules.
node_stop() {
  local run pid shim
  run="$(node_run_dir)"
  stop kubelet
  stop coredns
  # The containers: each runs under a shim that containerd started for this socket.
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $run/containerd.sock" 2>/dev/null); do
    for pid in $(pgrep -P "$shim" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  stop containerd
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $run/containerd.sock" 2>/dev/null); do
    kill -KILL "$shim" 2>/dev/null || true
  done
  stop docker-registry
  if alive kube-proxy || [[ -f "$STATE/run/kube-proxy.args" ]]; then
    stop kube-proxy
    "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  fi
  local m
  for m in $(findmnt -rn -o TARGET | grep -E "^($STATE|$run)/" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  # The pods' network namespaces (containerd names them cni-<uuid>); each is left once
  # nothing runs in it.
  for m in /run/netns/cni-*; do
    [[ -e "$m" ]] || continue
    if ! ip netns pids "$(basename "$m")" 2>/dev/null | grep -q .; then
      umount "$m" 2>/dev/null || true
      rm -f "$m"
    fi
  done
  rm -rf "$run"
}

# --- kubefn on the node ------------------------------------------------------------------

KUBEFN_RELEASE="${KUBEFN_RELEASE:-kubefn}"
KUBEFN_NAMESPACE="${KUBEFN_NAMESPACE:-kubefn-system}"

# scripts/cluster install [HELM ARGS...]: the images built here and pushed to the node's
# registry, then the chart installed with them, with that registry for source builds and the
# gateway on a node port of the node's address. What a user does on any cluster, with this
# cluster's registry.
node_install() {
  local registry images out port
  real_node || die "install needs a real node: scripts/cluster up --real-node"
  running || die "the cluster in $STATE is not running"
  registry="$(registry_address)"
  say "building and pushing kubefn's images to $registry ..."
  out="$(node_images)" || die "the images could not be built and pushed"
  images="$(tail -n 1 <<<"$out")"
  image() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$images" "$1"; }
  # REPO:TAG@DIGEST -> the chart's three values
  local sets=()
  local key value ref
  for key in operator gateway dispatcher runtimeBase builder; do
    case "$key" in
      runtimeBase) value="$(image runtime-cpp)" ;;
      *) value="$(image "$key")" ;;
    esac
    ref="${value%@*}"
    sets+=(--set "images.$key.repository=${ref%:*}" --set "images.$key.tag=${ref##*:}"
      --set "images.$key.digest=${value#*@}")
  done
  "$BIN/helm" --kubeconfig "$STATE/admin.kubeconfig" upgrade --install "$KUBEFN_RELEASE" \
    "$ROOT/charts/kubefn" --namespace "$KUBEFN_NAMESPACE" --create-namespace \
    "${sets[@]}" --set "registry.repository=$registry/functions" --set registry.plainHTTP=true \
    --set gateway.service.type=NodePort --wait --timeout 5m "$@" >&2
  port="$(kubectl -n "$KUBEFN_NAMESPACE" get service "$KUBEFN_RELEASE-gateway" \
    -o jsonpath='{.spec.ports[0].nodePort}')"
  say "kubefn is installed in $KUBEFN_NAMESPACE; the gateway is http://$NODE_IP:$port"
  echo "KUBEFN_GATEWAY=http://$NODE_IP:$port"
}

node_uninstall() {
  running || die "the cluster in $STATE is not running"
  "$BIN/helm" --kubeconfig "$STATE/admin.kubeconfig" uninstall "$KUBEFN_RELEASE" \
    --namespace "$KUBEFN_NAMESPACE" --wait >&2
}

# --- a NATS server in the cluster (the node tests' queue triggers and asynchronous calls) ------

NODE_NATS_NAMESPACE=messaging
NODE_NATS_URL="nats://nats.$NODE_NATS_NAMESPACE.svc.cluster.local:4222"

# scripts/cluster nats: this machine's nats-server as an image (scripts/images --only nats),
# pushed to the node's registry and run as a Deployment (JetStream on, its storage in an
# emptyDir, so a new pod starts empty) with a Service `nats` in $NODE_NATS_NAMESPACE: port 4222
# inside the cluster, and a node port on the node's address for this machine. Prints its
# in-cluster URL last (what a Function's trigger and the chart's async.natsUrl name).
node_nats() {
  local out image port
  real_node || die "nats needs a real node: scripts/cluster up --real-node"
  running || die "the cluster in $STATE is not running"
  local version
  version="$("${KUBEFN_NATS_SERVER:-nats-server}" --version | sed -n 's/^nats-server: v\{0,1\}//p')"
  [[ -n "$version" ]] || die "nats-server is missing (scripts/setup installs it)"
  out="$(node_images --only nats --tag "$version-kubefn")" || die "the nats image could not be built and pushed"
  image="$(sed -n 's/^nats=//p' <<<"$out")"
  kubectl apply -f - >/dev/null <<EOC
apiVersion: v1
kind: Namespace
metadata: {name: $NODE_NATS_NAMESPACE}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nats
  namespace: $NODE_NATS_NAMESPACE
  labels: {app.kubernetes.io/name: nats}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector:
    matchLabels: {app.kubernetes.io/name: nats}
  template:
    metadata:
      labels: {app.kubernetes.io/name: nats}
    spec:
      automountServiceAccountToken: false
      securityContext: {runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532}
      containers:
        - name: nats
          image: $image
          # 0.0.0.0 of the pod's own network namespace: the pod's address, nothing else.
          args: [--addr=0.0.0.0, --port=4222, --http_port=8222, --jetstream,
                 --store_dir=/data, --server_name=nats-0]
          ports:
            - {name: client, containerPort: 4222}
            - {name: monitor, containerPort: 8222}
          readinessProbe:
            httpGet: {path: /healthz, port: monitor}
            periodSeconds: 2
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
          resources:
            requests: {cpu: 50m, memory: 64Mi}
          volumeMounts:
            - {name: data, mountPath: /data}
      volumes:
        - name: data
          emptyDir: {}
---
apiVersion: v1
kind: Service
metadata:
  name: nats
  namespace: $NODE_NATS_NAMESPACE
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: nats}
  ports:
    - {name: client, port: 4222, targetPort: client}
EOC
  kubectl -n "$NODE_NATS_NAMESPACE" rollout status deployment/nats --timeout=3m >&2 ||
    die "the NATS server did not become ready"
  port="$(kubectl -n "$NODE_NATS_NAMESPACE" get service nats -o jsonpath='{.spec.ports[0].nodePort}')"
  say "NATS (JetStream) runs in $NODE_NATS_NAMESPACE: $NODE_NATS_URL; from this machine nats://$NODE_IP:$port"
  echo "KUBEFN_NATS_URL=$NODE_NATS_URL"
}
