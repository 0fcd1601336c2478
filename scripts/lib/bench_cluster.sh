# scripts/bench --cluster, sourced by scripts/bench (which has built the binaries and set SY,
# LOADGEN, SECRET, KEY, SY_LIMITS, PIN_*, OUT, RUNS, DURATION). Cluster mode measured with the
# same load generator: a Redis of its own on a free port (stopped at the end), fresh nodes per
# run.
#   cluster-1node: N=5000, rooms of 100, 10k deliveries/s, one node, no Redis (the baseline)
#   cluster-2nodes: the same, clients on node A, publishes through node B: every delivery
#                   crosses Redis; CPU of A (the delivering node), of B and of Redis apart
#   cluster-3nodes-50k: 50,100 clients, 16,700 on each of three nodes (the 20,000 open-file
#                   limit per process), three generators publishing through the next node
#                   round, 6,000 deliveries/s in all; every client checked for every delivery
command -v redis-server >/dev/null 2>&1 || ensure_debian_packages redis-server:redis-server \
  || die "redis-server is missing (Debian: apt-get install redis-server)"
RES="$OUT/cluster"
rm -rf "$RES"; mkdir -p "$RES"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# utime + stime of a process, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ="$(getconf CLK_TCK)"

REDIS_PID="" NODE_PIDS=() NODE_URLS=()
stop_cluster() {
  for pid in "${NODE_PIDS[@]}" ${REDIS_PID:+"$REDIS_PID"}; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${NODE_PIDS[@]}" ${REDIS_PID:+"$REDIS_PID"}; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  REDIS_PID="" NODE_PIDS=() NODE_URLS=()
}
trap 'stop_cluster; stop_server' EXIT

start_redis() {
  local port; port="$(free_port)"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >"$RES/redis.log" 2>&1 &
  REDIS_PID=$!
  REDIS_URL="redis://127.0.0.1:$port"
  for _ in $(seq 100); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && return 0
    sleep 0.1
  done
  die "redis-server did not answer on port $port"
}

# start_node ID LOG [ARGS...]: a fresh node (over $REDIS_URL when set); appends its pid and url.
start_node() {
  local id="$1" log_file="$2"; shift 2
  local redis=()
  [[ -n ${REDIS_URL:-} ]] && redis=(--redis-url "$REDIS_URL" --node-id "$id")
  "$SY" serve --addr 127.0.0.1:0 --jwt-secret "$SECRET" --api-keys "$KEY" "${SY_LIMITS[@]}" "${redis[@]}" "$@" \
    >"$log_file" 2>&1 &
  local pid=$! url
  url="$(listening_url "$pid" "$log_file" "node $id")"
  NODE_PIDS+=("$pid") NODE_URLS+=("$url")
}

failed=0
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- host core || echo ' (with uncommitted changes)')"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') ($(nproc) cores)"
  echo "redis: $(redis-server --version | grep -oE 'v=[0-9.]+' | cut -d= -f2)"
  echo "runs: $RUNS per scenario, $DURATION s publishing phase"
} >"$RES/machine.txt"

for run in $(seq "$RUNS"); do
  # One node, in memory: the same scenario as fanout-10k, run here for a like-for-like baseline.
  REDIS_URL=""
  start_node solo "$RES/cluster-1node.$run.log"
  log "cluster-1node / run $run: 5000 clients, rooms of 100, 10000 deliveries/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  "${PIN_LOADGEN[@]}" "$LOADGEN" --url "${NODE_URLS[0]}" --jwt-secret "$SECRET" --api-key "$KEY" \
    --clients 5000 --rooms 50 --rate 10000 --duration "$DURATION" --server-pid "${NODE_PIDS[0]}" \
    --label one-node --json >"$RES/cluster-1node.$run.json" || failed=1
  stop_cluster

  # Two nodes over Redis: clients on A, publishes through B.
  start_redis
  start_node a "$RES/cluster-2nodes.$run.a.log"
  start_node b "$RES/cluster-2nodes.$run.b.log"
  log "cluster-2nodes / run $run: 5000 clients on A, publishes through B, 10000 deliveries/s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  b0="$(ticks "${NODE_PIDS[1]}")" r0="$(ticks "$REDIS_PID")"
  "${PIN_LOADGEN[@]}" "$LOADGEN" --url "${NODE_URLS[0]}" --api-url "${NODE_URLS[1]}" --jwt-secret "$SECRET" --api-key "$KEY" \
    --clients 5000 --rooms 50 --rate 10000 --duration "$DURATION" --server-pid "${NODE_PIDS[0]}" \
    --label two-nodes --json >"$RES/cluster-2nodes.$run.json" || failed=1
  # The whole run's CPU of the publishing node and of Redis (connects included: a bound).
  printf '{"publishing_node_cpu_s": %s, "redis_cpu_s": %s}\n' \
    "$(python3 -c "print(($(ticks "${NODE_PIDS[1]}") - $b0) / $HZ)")" \
    "$(python3 -c "print(($(ticks "$REDIS_PID") - $r0) / $HZ)")" >"$RES/cluster-2nodes.$run.extra.json"
  stop_cluster

  # 50,100 clients on three nodes, three generators, each publishing through the next node.
  start_redis
  for k in 0 1 2; do start_node "n$k" "$RES/cluster-3nodes.$run.n$k.log"; done
  start_at="$(python3 -c "import time; print(time.time() + ${BENCH_CLUSTER_WAIT:-90})")"
  log "cluster-3nodes-50k / run $run: 3 x 16700 clients, publishing at +${BENCH_CLUSTER_WAIT:-90} s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  gens=()
  for k in 0 1 2; do
    "$LOADGEN" --url "${NODE_URLS[$k]}" --api-url "${NODE_URLS[$(((k + 1) % 3))]}" --jwt-secret "$SECRET" --api-key "$KEY" \
      --clients 16700 --rooms 167 --rate 2000 --duration "$DURATION" --server-pid "${NODE_PIDS[$k]}" \
      --id-prefix "g$k" --start-at "$start_at" --count-cluster --label "n$k" --json \
      >"$RES/cluster-3nodes.$run.g$k.json" 2>"$RES/cluster-3nodes.$run.g$k.err" &
    gens+=($!)
  done
  for g in "${gens[@]}"; do wait "$g" || failed=1; done
  stop_cluster
done

python3 - "$RES" "$ROOT/docs/benchmarks-cluster.md" <<'PY'
import json, statistics, sys
from pathlib import Path
res, out = Path(sys.argv[1]), Path(sys.argv[2])
meta = dict(l.split(": ", 1) for l in (res / "machine.txt").read_text().splitlines() if ": " in l)
def load(pattern):
    out = []
    for f in sorted(res.glob(pattern)):
        try:
            out.append(json.loads(f.read_text()))
        except (json.JSONDecodeError, OSError):
            pass
    return out
def get(d, path):
    for p in path.split("."):
        d = d.get(p) if isinstance(d, dict) else None
    return d
def cell(ds, path, digits=2):
    v = [x for d in ds if (x := get(d, path)) is not None]
    if not v:
        return "—"
    m = f"{statistics.median(v):,.{digits}f}"
    return m if len(v) == 1 else f"{m} ({min(v):,.{digits}f}–{max(v):,.{digits}f})"
one, two = load("cluster-1node.*[0-9].json"), load("cluster-2nodes.*[0-9].json")
extra = load("cluster-2nodes.*.extra.json")
w = []
w.append("# Benchmarks: cluster mode over Redis")
w.append("")
w.append(f"Written by `scripts/bench --cluster{' --runs ' + meta['runs'].split()[0] if not meta['runs'].startswith('3 ') else ''}` on {meta.get('date', '?')} "
         f"(commit {meta.get('commit', '?')}; {meta.get('cpu', '?')}; Redis {meta.get('redis', '?')}, its own, on a free port). "
         "The same load generator as [benchmarks.md](benchmarks.md) (`bench/loadgen`); fresh nodes and a fresh Redis per run; "
         "medians of the runs with the range in brackets. The connection rate limit is off (`--connects-per-sec 0`).")
w.append("")
w.append("## One node against two over Redis (N=5000, rooms of 100, 10,000 deliveries/s)")
w.append("")
w.append("Two nodes: every client on node A, every publish through node B's API, so each delivery crosses Redis "
         "(B appends to the stream and publishes; A receives it and fans it out). The node's CPU is the delivering node's, "
         "over the publishing phase; B's and Redis's are over the whole run, connects included.")
w.append("")
w.append("| measure | one node (in memory) | two nodes over Redis |")
w.append("|---|---:|---:|")
rows = [("deliveries received / expected", "deliveries_received", 0), ("server CPU per delivered message, µs (delivering node)", "server_cpu.per_delivery_us", 2),
        ("… of which user space, µs", "server_cpu.user_per_delivery_us", 2), ("… of which kernel, µs", "server_cpu.system_per_delivery_us", 2),
        ("fan-out latency p50, ms", "latency_ms.p50", 2), ("fan-out latency p90, ms", "latency_ms.p90", 2),
        ("fan-out latency p99, ms", "latency_ms.p99", 2), ("fan-out latency max, ms", "latency_ms.max", 1),
        ("API answer p50, ms", "api_latency_ms.p50", 2), ("API answer p99, ms", "api_latency_ms.p99", 2),
        ("connect + JWT + welcome + subscribe, all 5000, s", "connect_s", 2), ("RSS per connection, KiB", "server_rss_per_connection_kib", 1)]
for label, path, digits in rows:
    w.append(f"| {label} | {cell(one, path, digits)} | {cell(two, path, digits)} |")
w.append(f"| publishing node B, CPU over the run, s | — | {cell(extra, 'publishing_node_cpu_s', 2)} |")
w.append(f"| Redis, CPU over the run, s | — | {cell(extra, 'redis_cpu_s', 2)} |")
w.append("")
w.append("## 50,100 clients on three nodes")
w.append("")
w.append("Three nodes over one Redis, 16,700 websocket clients on each (a process may hold 20,000 open files here), three "
         "generators (one per node, 167 rooms of 100 each, their own ids), each publishing through the next node's API at "
         "2,000 deliveries/s, 6,000/s in all, all three starting together once connected. `cluster sockets` is what "
         "`GET /api/v1/nodes` summed when each generator started publishing: the clients held at the same time. "
         "Nothing is pinned (six processes and Redis share two cores). The last column is not comparable with the paced scenarios: at 2,000 deliveries/s a node's cost of merely holding 16,700 sockets (Engine.IO pings, heartbeats) is spread over few deliveries.")
w.append("")
w.append("| run | node | clients | cluster sockets at start | received / expected | missing | p50 ms | p99 ms | max ms | connect s | node RSS connected, MiB | RSS per connection, KiB | node CPU per delivery, µs |")
w.append("|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
runs = sorted({f.name.split(".")[1] for f in res.glob("cluster-3nodes.*.g*.json")}, key=int)
for run in runs:
    for k in range(3):
        f = res / f"cluster-3nodes.{run}.g{k}.json"
        try:
            d = json.loads(f.read_text())
        except (json.JSONDecodeError, OSError):
            err = (res / f"cluster-3nodes.{run}.g{k}.err")
            w.append(f"| {run} | n{k} | — | — | failed: {err.read_text().strip().splitlines()[-1] if err.exists() and err.read_text().strip() else '?'} | | | | | | | | |")
            continue
        c = d.get("server_cpu") or {}
        w.append(f"| {run} | n{k} | {d['clients']:,} | {d.get('cluster_sockets_at_start') or 0:,} | {d['deliveries_received']:,} / {d['deliveries_expected']:,} | "
                 f"{d['deliveries_missing']} | {d['latency_ms']['p50']:.2f} | {d['latency_ms']['p99']:.2f} | {d['latency_ms']['max']:.1f} | {d['connect_s']:.1f} | "
                 f"{(d.get('server_rss_connected_kib') or 0) / 1024:.1f} | {d.get('server_rss_per_connection_kib') or 0:.1f} | {c.get('per_delivery_us', 0):.2f} |")
w.append("")
w.append("## Commands")
w.append("")
w.append("`scripts/bench --cluster` (it builds the release binaries, starts `redis-server --port <free> --save '' --appendonly no`, "
         "and for each run fresh `switchyard serve --redis-url redis://127.0.0.1:<port> --node-id <id> --connects-per-sec 0` nodes). "
         "The generators, with `$A`, `$B` the nodes' addresses:")
w.append("")
w.append("```sh")
w.append("switchyard-loadgen --url $A --api-url $B --clients 5000 --rooms 50 --rate 10000 --duration 10 --server-pid $PID_A --json")
w.append("switchyard-loadgen --url $N0 --api-url $N1 --clients 16700 --rooms 167 --rate 2000 --duration 10 --server-pid $PID_N0 \\")
w.append("  --id-prefix g0 --start-at $T --count-cluster --json   # and g1 on N1 through N2, g2 on N2 through N0")
w.append("```")
out.write_text("\n".join(w) + "\n")
print(f"wrote {out}")
PY
log "done: docs/benchmarks-cluster.md (raw results in $RES)"
