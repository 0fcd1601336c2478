"""Writes docs/benchmarks.md and docs/benchmarks.png from scripts/bench's results.

    python bench_report.py RESULTS_DIR OUT_MD OUT_PNG "COMMAND"

RESULTS_DIR holds <scenario>.<server>.<run>.json (the load generator's --json output),
machine.txt and commands.txt. Every figure is the median of the runs; the per-run table keeps
every value and the load average it ran under.
"""

import json
import statistics
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

results_dir, out_md, out_png, command = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), " ".join(sys.argv[4].split())

runs = {}
for f in sorted(results_dir.glob("*.json")):
    scenario, server, run = f.stem.split(".")
    try:
        data = json.loads(f.read_text())
    except json.JSONDecodeError:
        continue  # a failed run leaves an empty file; it shows as missing
    runs.setdefault((scenario, server), []).append((int(run), data))

SERVERS = [("node", "Node socket.io 4.8"), ("switchyard", "Switchyard")]
SCENARIOS = {
    "fanout-10k": "N=5000 sockets, rooms of 100, 10,000 deliveries/s",
    "fanout-40k": "N=1000 sockets, rooms of 100, 40,000 deliveries/s",
    "fanout-10k-nohistory": "N=5000, rooms of 100, 10,000 deliveries/s, `--history-size 0`",
    "rooms-1000": "N=5000 sockets, rooms of 1,000, 100 API publishes/s (100,000 deliveries/s)",
    "scale-19500": "N=19,500 sockets (the 20,000 open-file limit), rooms of 100, 10,000 deliveries/s",
}
SHORT = {"fanout-10k": "10k/s, N=5000", "fanout-40k": "40k/s, N=1000",
         "rooms-1000": "rooms of 1000, 100 publishes/s", "scale-19500": "N=19,500, 10k/s"}


def get(d, path):
    for p in path.split("."):
        d = d.get(p) if isinstance(d, dict) else None
        if d is None:
            return None
    return d


def values(scenario, server, path):
    # The RSS total reads better in MiB; every other figure is shown as measured.
    scale = 1 / 1024 if path == "server_rss_connected_kib" else 1
    return [v * scale for _, d in sorted(runs.get((scenario, server), [])) if (v := get(d, path)) is not None]


def med(scenario, server, path):
    v = values(scenario, server, path)
    return statistics.median(v) if v else None


def fmt(x, digits):
    return "—" if x is None else f"{x:,.{digits}f}"


def cell(scenario, server, path, digits):
    v = values(scenario, server, path)
    if not v:
        return "—"
    m = fmt(statistics.median(v), digits)
    if len(v) > 1:
        return f"{m} ({fmt(min(v), digits)}–{fmt(max(v), digits)})"
    return m


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}×"


# (label, scenario, json path, digits)
MEASURES = [
    ("server CPU per delivered message, µs", "fanout-10k", "server_cpu.per_delivery_us", 2),
    ("… of which user space, µs", "fanout-10k", "server_cpu.user_per_delivery_us", 2),
    ("… of which kernel, µs", "fanout-10k", "server_cpu.system_per_delivery_us", 2),
    ("user CPU over the publishing phase, s", "fanout-10k", "server_cpu.user_s", 2),
    ("system CPU over the publishing phase, s", "fanout-10k", "server_cpu.system_s", 2),
    ("fan-out latency p50, ms", "fanout-10k", "latency_ms.p50", 2),
    ("fan-out latency p90, ms", "fanout-10k", "latency_ms.p90", 2),
    ("fan-out latency p99, ms", "fanout-10k", "latency_ms.p99", 2),
    ("fan-out latency max, ms", "fanout-10k", "latency_ms.max", 1),
    ("server CPU per delivered message, µs", "fanout-40k", "server_cpu.per_delivery_us", 2),
    ("… of which user space, µs", "fanout-40k", "server_cpu.user_per_delivery_us", 2),
    ("… of which kernel, µs", "fanout-40k", "server_cpu.system_per_delivery_us", 2),
    ("fan-out latency p50, ms", "fanout-40k", "latency_ms.p50", 2),
    ("fan-out latency p99, ms", "fanout-40k", "latency_ms.p99", 2),
    ("fan-out latency max, ms", "fanout-40k", "latency_ms.max", 1),
    ("deliveries per second achieved", "fanout-40k", "deliveries_per_s", 0),
    ("connect + JWT + welcome + subscribe, all 5000, s", "fanout-10k", "connect_s", 2),
    ("… as connections per second", "fanout-10k", "connect_per_s", 0),
    ("server CPU per connect (all of it), µs", "fanout-10k", "server_cpu_connect.per_delivery_us", 0),
    ("RSS per connection, KiB", "fanout-10k", "server_rss_per_connection_kib", 1),
    ("RSS with 5000 connected, MiB", "fanout-10k", "server_rss_connected_kib", 1),
    ("load generator CPU per delivery, µs", "fanout-10k", "generator_cpu.per_delivery_us", 2),
    ("server CPU per delivered message, µs", "rooms-1000", "server_cpu.per_delivery_us", 2),
    ("… of which user space, µs", "rooms-1000", "server_cpu.user_per_delivery_us", 2),
    ("… of which kernel, µs", "rooms-1000", "server_cpu.system_per_delivery_us", 2),
    ("deliveries per second achieved", "rooms-1000", "deliveries_per_s", 0),
    ("fan-out latency p50, ms", "rooms-1000", "latency_ms.p50", 2),
    ("fan-out latency p99, ms", "rooms-1000", "latency_ms.p99", 2),
    ("deliveries received / expected (zero loss)", "scale-19500", "deliveries_received", 0),
    ("server CPU per delivered message, µs", "scale-19500", "server_cpu.per_delivery_us", 2),
    ("… of which user space, µs", "scale-19500", "server_cpu.user_per_delivery_us", 2),
    ("… of which kernel, µs", "scale-19500", "server_cpu.system_per_delivery_us", 2),
    ("fan-out latency p50, ms", "scale-19500", "latency_ms.p50", 2),
    ("fan-out latency p99, ms", "scale-19500", "latency_ms.p99", 2),
    ("connect + JWT + welcome + subscribe, all 19,500, s", "scale-19500", "connect_s", 2),
    ("… as connections per second", "scale-19500", "connect_per_s", 0),
    ("RSS per connection, KiB", "scale-19500", "server_rss_per_connection_kib", 1),
    ("RSS with 19,500 connected, MiB", "scale-19500", "server_rss_connected_kib", 1),
]

machine = (results_dir / "machine.txt").read_text().strip().splitlines() if (results_dir / "machine.txt").exists() else []
meta = dict(line.split(": ", 1) for line in machine if ": " in line)
commands = {}
if (results_dir / "commands.txt").exists():
    for line in (results_dir / "commands.txt").read_text().splitlines():
        scenario, server, srv, lg = line.split("|", 3)
        commands[(scenario, server)] = (srv.strip(), lg.strip())

out = []
w = out.append
w("# Benchmarks: Switchyard against Node socket.io 4.8")
w("")
w(f"Written by `{command}` on {meta.get('date', '?')} (commit {meta.get('commit', '?')}). "
  "Both servers are driven by the same load generator (`bench/loadgen`, a Rust client that speaks "
  "Engine.IO 4 / Socket.IO 5 over websocket itself, so its own cost stays small) through the "
  "contract: one HS256 token per client, `subscribe` with an ack, then ticket updates through "
  "`POST /api/v1/tickets/{id}/updates` at a fixed paced rate, each carrying its send time, so "
  "latency is per delivery, from the API call to the client's receive. Server CPU (user and "
  "system apart) is read from `/proc/<pid>/stat` over the publishing phase only; RSS is `VmRSS` "
  "before connecting and 0.5 s after the last subscribe ack. A fresh server per run. The Node "
  "server is `bench/node-ref` (plain socket.io 4.8 on `node:http`; it has no streams, so it is "
  "compared with Switchyard's default, streams on, and the streams table shows what they cost).")
w("")
w("Each figure is the median of the runs, with the range in brackets. The ratio is "
  "Switchyard / Node (below 1 is better for Switchyard in every row but the rate rows).")
w("")
w("**Machine:** " + "; ".join(f"{k} {v}" for k, v in meta.items() if k not in ("date", "commit")) + ".")
w("")
loads = [get(d, "load_average_start") for rs in runs.values() for _, d in rs]
w("**Load:** this is a shared 2-core machine; the 1/5/15-minute load average at the start of "
  "each run is in the per-run table below (range of the 1-minute figure: "
  + (f"{min(float(l.split()[0]) for l in loads):.2f}–{max(float(l.split()[0]) for l in loads):.2f}" if loads else "?")
  + "). A load above about 1 means other processes shared the cores with the pinned server "
  "and load generator, which inflates latency and, less so, CPU per message.")
w("")
w("## Switchyard against Node")
w("")
w("| scenario | measure | Node socket.io 4.8 | Switchyard | ratio |")
w("|---|---|---:|---:|---:|")
for label, scenario, path, digits in MEASURES:
    cn, cs = cell(scenario, "node", path, digits), cell(scenario, "switchyard", path, digits)
    r = ratio(med(scenario, "switchyard", path), med(scenario, "node", path))
    w(f"| {SHORT[scenario]} | {label} | {cn} | {cs} | {r} |")
w("")
w("## Switchyard: streams on (default) against `--history-size 0`")
w("")
w("| measure | streams on | `--history-size 0` | ratio (off / on) |")
w("|---|---:|---:|---:|")
for label, scenario, path, digits in MEASURES:
    if scenario != "fanout-10k" or path.startswith("generator"):
        continue
    on, off = cell("fanout-10k", "switchyard", path, digits), cell("fanout-10k-nohistory", "switchyard", path, digits)
    w(f"| {label} | {on} | {off} | {ratio(med('fanout-10k-nohistory', 'switchyard', path), med('fanout-10k', 'switchyard', path))} |")
w("")
w("![Fan-out latency percentiles and server CPU per delivered message](benchmarks.png)")
w("")
leads = Path(__file__).resolve().parents[2] / "bench" / "leads.md"
if leads.exists():
    w(leads.read_text().strip())
    w("")
w("## Every run")
w("")
w("| scenario | server | run | load avg at start | load avg at end | received / expected | CPU/delivery µs (user + sys) | p50 ms | p99 ms | max ms | connect s | RSS/conn KiB |")
w("|---|---|---:|---|---|---|---|---:|---:|---:|---:|---:|")
for scenario in SCENARIOS:
    for server, _ in SERVERS:
        for run, d in sorted(runs.get((scenario, server), [])):
            c = d.get("server_cpu") or {}
            w(f"| {scenario} | {server} | {run} | {d['load_average_start']} | {d['load_average_end']} | "
              f"{d['deliveries_received']:,} / {d['deliveries_expected']:,} | "
              f"{fmt(c.get('per_delivery_us'), 2)} ({fmt(c.get('user_per_delivery_us'), 2)} + {fmt(c.get('system_per_delivery_us'), 2)}) | "
              f"{fmt(d['latency_ms']['p50'], 2)} | {fmt(d['latency_ms']['p99'], 2)} | {fmt(d['latency_ms']['max'], 1)} | "
              f"{fmt(d['connect_s'], 2)} | {fmt(d.get('server_rss_per_connection_kib'), 1)} |")
w("")
w("## Commands")
w("")
w("Everything above: `" + command + "` (builds both servers and the load generator, `npm ci` in "
  "`bench/node-ref`, runs the matrix, writes this file and the plot; raw JSON per run in "
  "`target/bench/results/`). Each run, with `$S`/`$K` the generated secret and API key, `$URL` "
  "the address the fresh server printed and `$PID` its process id:")
w("")
w("```sh")
for (scenario, server), (srv, lg) in sorted(commands.items()):
    w(f"# {scenario}, {server}")
    w(srv)
    w(lg)
w("```")
w("")
out_md.write_text("\n".join(out) + "\n")

# ---- the plot ----
bars = [("fanout-10k", "node", "Node\n10k/s N=5000"), ("fanout-10k", "switchyard", "Switchyard\n10k/s N=5000"),
        ("fanout-10k-nohistory", "switchyard", "Switchyard\nhistory 0\n10k/s N=5000"),
        ("fanout-40k", "node", "Node\n40k/s N=1000"), ("fanout-40k", "switchyard", "Switchyard\n40k/s N=1000"),
        ("rooms-1000", "node", "Node\nrooms of 1000\n100k/s N=5000"), ("rooms-1000", "switchyard", "Switchyard\nrooms of 1000\n100k/s N=5000"),
        ("scale-19500", "node", "Node\n10k/s\nN=19,500"), ("scale-19500", "switchyard", "Switchyard\n10k/s\nN=19,500")]
bars = [b for b in bars if (b[0], b[1]) in runs]
colors = {"node": "#8a9a5b", "switchyard": "#c0392b"}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(17, 5.6))
x = range(len(bars))
width = 0.26
for i, (pct, shade) in enumerate([("p50", 0.45), ("p90", 0.7), ("p99", 1.0)]):
    ys = [med(s, srv, f"latency_ms.{pct}") or 0 for s, srv, _ in bars]
    xs = [k + (i - 1) * width for k in x]
    rects = ax1.bar(xs, ys, width, color=[colors[srv] for _, srv, _ in bars], alpha=shade,
                    label=pct, edgecolor="black", linewidth=0.4)
    ax1.bar_label(rects, fmt="%.1f", fontsize=7, padding=1)
ax1.set_xticks(list(x), [b[2] for b in bars], fontsize=7)
ax1.set_ylabel("ms, API call → client receive (log scale)")
# Log scale: a quiet machine gives single-digit milliseconds, a loaded one seconds.
ax1.set_yscale("log")
ax1.set_title("Fan-out latency, API call → client\n(p50 / p90 / p99, light → dark)")
ax1.grid(axis="y", alpha=0.3)
ax1.margins(y=0.15)

user = [med(s, srv, "server_cpu.user_per_delivery_us") or 0 for s, srv, _ in bars]
system = [med(s, srv, "server_cpu.system_per_delivery_us") or 0 for s, srv, _ in bars]
ax2.bar(list(x), user, 0.6, color=[colors[srv] for _, srv, _ in bars], label="user", edgecolor="black", linewidth=0.4)
r = ax2.bar(list(x), system, 0.6, bottom=user, color=[colors[srv] for _, srv, _ in bars], alpha=0.4,
            label="kernel", edgecolor="black", linewidth=0.4, hatch="//")
ax2.bar_label(r, labels=[f"{u + s:.1f}" for u, s in zip(user, system)], fontsize=8, padding=2)
ax2.set_xticks(list(x), [b[2] for b in bars], fontsize=7)
ax2.set_ylabel("µs of server CPU per delivered message")
ax2.set_title("Server CPU per delivered message\n(solid: user space, hatched: kernel)")
ax2.grid(axis="y", alpha=0.3)
ax2.margins(y=0.12)
fig.suptitle(f"Switchyard vs Node socket.io 4.8, medians of runs — {meta.get('date', '')}, "
             f"load avg {min(float(l.split()[0]) for l in loads):.1f}–{max(float(l.split()[0]) for l in loads):.1f}"
             if loads else "Switchyard vs Node socket.io 4.8", fontsize=11)
fig.tight_layout()
fig.savefig(out_png, dpi=110)
