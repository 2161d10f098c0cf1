#!/usr/bin/env python3
"""Helpers of bench/run.sh (standard library only).

  measure.py window --root PID --delay S --length S --out FILE
      Sleeps DELAY seconds, snapshots /proc, sleeps LENGTH seconds, snapshots again, and writes
      the window's CPU accounting: machine busy time from /proc/stat (user+nice+system+irq+softirq),
      the CPU time of the run's own processes (every descendant of PID, from /proc/PID/stat) and of
      ksoftirqd (network receive work of the run), the rest as foreign CPU time, and /proc/loadavg.

  measure.py row --kind KIND --peer P --workload W --mtu M --seconds T --rc RC --output F
                 --window F --cmd CMD
      Parses one tool's output (KIND: nvmeoe, fio, iscsi, iperf) and prints one JSON row: IOPS,
      MiB/s, latency (us), CPU-seconds per GiB and per million I/Os, and the foreign-load flag.

  measure.py report --rows F --meta F [--micro F] --json OUT --md OUT
      Writes results.json and RESULTS.md: tables, ratios against the peers and the goals.
"""

import argparse
import json
import os
import re
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
# A window whose CPU time outside the run exceeds this share of one CPU is marked as measured
# under foreign load (NVMEOE_BENCH_FOREIGN_LIMIT overrides it).
FOREIGN_CPU_LIMIT = float(os.environ.get("NVMEOE_BENCH_FOREIGN_LIMIT", "0.15"))


# ---------------------------------------------------------------------------------------------
# window


def read_proc_stat():
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu "):
                v = [int(x) for x in line.split()[1:]]
                # user nice system idle iowait irq softirq steal ...
                return {"user": v[0], "nice": v[1], "system": v[2], "idle": v[3], "iowait": v[4],
                        "irq": v[5], "softirq": v[6], "steal": v[7] if len(v) > 7 else 0}
    raise RuntimeError("/proc/stat has no cpu line")


def read_tasks():
    """pid -> (ppid, comm, utime+stime ticks) for every process."""
    tasks = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                s = f.read()
        except OSError:
            continue  # exited meanwhile
        # comm is in parentheses and may contain spaces: split after the last ')'.
        lp, rp = s.find("("), s.rfind(")")
        if lp < 0 or rp < 0:
            continue
        comm = s[lp + 1:rp]
        rest = s[rp + 2:].split()
        try:
            ppid = int(rest[1])
            ticks = int(rest[11]) + int(rest[12])  # utime, stime (fields 14, 15)
        except (IndexError, ValueError):
            continue
        tasks[int(name)] = (ppid, comm, ticks)
    return tasks


def descendants(tasks, root):
    children = {}
    for pid, (ppid, _, _) in tasks.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(children.get(p, []))
    return out


def snapshot(root):
    t = time.monotonic()
    stat = read_proc_stat()
    tasks = read_tasks()
    with open("/proc/loadavg") as f:
        load = [float(x) for x in f.read().split()[:3]]
    return {"t": t, "stat": stat, "tasks": tasks, "own": descendants(tasks, root), "load": load}


def cmd_window(a):
    time.sleep(a.delay)
    s0 = snapshot(a.root)
    time.sleep(a.length)
    s1 = snapshot(a.root)
    wall = s1["t"] - s0["t"]
    d = {k: s1["stat"][k] - s0["stat"][k] for k in s0["stat"]}
    busy = d["user"] + d["nice"] + d["system"] + d["irq"] + d["softirq"]
    own = ksoftirqd = 0
    own_names = {}
    for pid, (_, comm, ticks) in s1["tasks"].items():
        before = s0["tasks"].get(pid)
        # A process that started during the window counts from zero.
        delta = ticks - (before[2] if before and before[1] == comm else 0)
        if pid in s1["own"] or pid in s0["own"]:
            own += delta
            if delta > 0:
                own_names[comm] = own_names.get(comm, 0) + delta
        elif comm.startswith("ksoftirqd/"):
            ksoftirqd += delta
    foreign = max(0, busy - own - ksoftirqd)
    out = {
        "wall_s": wall,
        "busy_cpu_s": busy / HZ,
        "own_cpu_s": own / HZ,
        "ksoftirqd_cpu_s": ksoftirqd / HZ,
        "irq_softirq_cpu_s": (d["irq"] + d["softirq"]) / HZ,
        "foreign_cpu_s": foreign / HZ,
        "foreign_cpus": foreign / HZ / wall if wall > 0 else 0.0,
        "own_pids": len(s0["own"] | s1["own"]),
        "own_by_name_cpu_s": {k: v / HZ for k, v in sorted(own_names.items(), key=lambda kv: -kv[1])},
        "loadavg_start": s0["load"],
        "loadavg_end": s1["load"],
    }
    with open(a.out, "w") as f:
        json.dump(out, f)


# ---------------------------------------------------------------------------------------------
# row


def load_json_text(text):
    """fio prints notices such as 'fio: connected to NBD server' before its JSON."""
    i = text.find("\n{")
    start = 0 if text.startswith("{") else (i + 1 if i >= 0 else -1)
    if start < 0:
        raise ValueError("no JSON object in the output")
    return json.loads(text[start:])


def parse_nvmeoe(text):
    j = load_json_text(text)
    lat = j.get("latency_us", {})
    ios = j.get("reads", 0) + j.get("writes", 0)
    r = {"iops": j["iops"], "mib_s": j["mib_per_s"], "lat_mean_us": lat.get("mean"),
         "lat_p50_us": lat.get("p50"), "lat_p99_us": lat.get("p99"), "ios": ios,
         "errors": j.get("errors", 0), "tool_seconds": j.get("seconds")}
    fr = j.get("frames")
    if fr:
        secs = j.get("seconds") or 0
        r["frames_per_io"] = fr.get("per_io")
        r["frames_sent_per_io"] = fr.get("sent_per_io")
        r["frames_received_per_io"] = fr.get("received_per_io")
        r["frames_per_s"] = (fr.get("sent", 0) + fr.get("received", 0)) / secs if secs > 0 else None
        r["digest_errors"] = j.get("digest_errors")
    return r


def parse_rawlink(text):
    """nvmeoe-rawsend --receive: the bare frame rate of the link (one sender, one receiver)."""
    m = re.search(r"received (\d+) frames \((\d+) bytes\) on \S+ in ([0-9.]+) s: ([0-9.]+) frames/s", text)
    if not m:
        raise ValueError("nvmeoe-rawsend --receive printed no rate")
    frames, nbytes, secs, fps = int(m.group(1)), int(m.group(2)), float(m.group(3)), float(m.group(4))
    if frames == 0:
        raise ValueError("no frame arrived")
    return {"iops": None, "mib_s": nbytes / secs / 2**20 if secs > 0 else None, "lat_mean_us": None,
            "lat_p50_us": None, "lat_p99_us": None, "ios": None, "errors": 0, "frames_per_s": fps}


def parse_fio(text):
    j = load_json_text(text)
    job = j["jobs"][0]
    if job.get("error"):
        raise ValueError(f"fio job error {job['error']}")
    iops = bw = 0.0
    ios = 0
    lat = None
    for d in ("read", "write"):
        s = job[d]
        if s.get("total_ios", 0) == 0:
            continue
        iops += s["iops"]
        bw += s["bw_bytes"]
        ios += s["total_ios"]
        lat = s  # one direction per workload here
    if lat is None:
        raise ValueError("fio did no I/O")
    # With --lat_percentiles=1 fio gives percentiles of the whole latency (submission to
    # completion), as nvmeoe perf measures it; otherwise only of the completion latency.
    pct = lat.get("lat_ns", {}).get("percentile") or lat.get("clat_ns", {}).get("percentile", {})

    def p(key):
        v = pct.get(key)
        return v / 1000.0 if v is not None else None

    return {"iops": iops, "mib_s": bw / 2**20, "lat_mean_us": lat["lat_ns"]["mean"] / 1000.0,
            "lat_p50_us": p("50.000000"), "lat_p99_us": p("99.000000"), "ios": ios,
            "errors": job.get("error", 0), "tool_seconds": job.get("job_runtime", 0) / 1000.0}


def parse_iscsi(text, qd):
    # Progress lines end in '\r'; the last "iops average N (M MB/s)" is the whole run's.
    m = re.findall(r"iops average (\d+)", text)
    size = re.search(r"fixed transfer size of \d+ blocks \((\d+) byte\)", text, re.IGNORECASE)
    if not m or not size:
        raise ValueError("iscsi-perf printed no average")
    iops = float(m[-1])
    nbytes = int(size.group(1))
    # iscsi-perf keeps qd requests in flight and reports no latency: the mean follows from
    # Little's law (qd / IOPS); percentiles are not available.
    return {"iops": iops, "mib_s": iops * nbytes / 2**20,
            "lat_mean_us": qd / iops * 1e6 if iops > 0 else None, "lat_mean_derived": True,
            "lat_p50_us": None, "lat_p99_us": None, "ios": None, "errors": 0,
            "io_bytes": nbytes}


def parse_iperf(text):
    j = json.loads(text)
    if "error" in j:
        raise ValueError(j["error"])
    bps = j["end"]["sum_received"]["bits_per_second"]
    return {"iops": None, "mib_s": bps / 8 / 2**20, "lat_mean_us": None, "lat_p50_us": None,
            "lat_p99_us": None, "ios": None, "errors": 0,
            "retransmits": j["end"].get("sum_sent", {}).get("retransmits")}


def cmd_row(a):
    row = {"peer": a.peer, "workload": a.workload, "mtu": a.mtu, "seconds": a.seconds,
           "cmd": a.cmd, "rc": a.rc, "ok": False}
    try:
        with open(a.output, errors="replace") as f:
            text = f.read()
    except OSError as e:
        text = ""
        row["error"] = str(e)
    try:
        if a.rc != 0:
            raise ValueError(f"exit status {a.rc}")
        if a.kind == "nvmeoe":
            r = parse_nvmeoe(text)
        elif a.kind == "fio":
            r = parse_fio(text)
        elif a.kind == "iscsi":
            r = parse_iscsi(text, a.qd)
        elif a.kind == "iperf":
            r = parse_iperf(text)
        elif a.kind == "rawlink":
            r = parse_rawlink(text)
        else:
            raise ValueError(f"unknown kind {a.kind}")
        row.update(r)
        row["ok"] = True
    except (ValueError, KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
        row["error"] = f"{type(e).__name__}: {e}; output: {text.strip()[-300:]}"
    try:
        with open(a.window) as f:
            w = json.load(f)
    except (OSError, json.JSONDecodeError):
        w = None
    row["window"] = w
    if w and row["ok"]:
        wall = w["wall_s"]
        gib = row["mib_s"] * wall / 1024.0 if row.get("mib_s") else 0.0
        mios = row["iops"] * wall / 1e6 if row.get("iops") else 0.0
        run_cpu = w["own_cpu_s"] + w["ksoftirqd_cpu_s"]
        row["cpu_s_per_gib"] = w["busy_cpu_s"] / gib if gib > 0 else None
        row["cpu_s_per_mio"] = w["busy_cpu_s"] / mios if mios > 0 else None
        row["run_cpu_s_per_gib"] = run_cpu / gib if gib > 0 else None
        row["cpus_busy"] = w["busy_cpu_s"] / wall if wall > 0 else None
        row["foreign_load"] = w["foreign_cpus"] > FOREIGN_CPU_LIMIT
    print(json.dumps(row))


# ---------------------------------------------------------------------------------------------
# report

WORKLOADS = [
    ("rr4k_qd1", "4 KiB randread QD1"),
    ("rr4k_qd32", "4 KiB randread QD32"),
    ("rw4k_qd32", "4 KiB randwrite QD32"),
    ("r128k_qd8", "128 KiB read QD8"),
    ("w128k_qd8", "128 KiB write QD8"),
    ("rr4k_qd32_i2", "4 KiB randread QD32 on 2 queues (16 each)"),
]
PEERS = [("nvmeoe", "nvmeoe (defaults)"), ("baseline", "nvmeoe at the baseline revision (its defaults)"),
         ("nvmeoe-nodd", "nvmeoe, --no-data-digest"),
         ("nvmeoe-poll", "nvmeoe, --poll-us 10 on both ends"),
         ("nvmeoe-xdp", "nvmeoe, --link af_xdp on both ends"),
         ("nbd", "NBD (nbdkit + fio nbd)"), ("iscsi", "iSCSI (tgt + iscsi-perf)"),
         ("local", "local io_uring (limit)")]
# The nvmeoe configurations every ratio and goal is given for.
NVMEOE_CONFIGS = ["nvmeoe", "nvmeoe-poll", "nvmeoe-xdp"]


def fmt(v, nd=1, unit=""):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}{unit}"
        return f"{v:.{nd}f}{unit}"
    return f"{v}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def find(rows, peer, workload, mtu):
    for r in rows:
        if r["peer"] == peer and r["workload"] == workload and (mtu is None or r["mtu"] == mtu):
            return r
    return None


def cmd_report(a):
    rows = [json.loads(line) for line in open(a.rows) if line.strip()]
    meta = json.load(open(a.meta))
    micro = None
    if a.micro and os.path.exists(a.micro):
        try:
            micro = json.load(open(a.micro))
        except json.JSONDecodeError:
            micro = None
    mtus = sorted({r["mtu"] for r in rows if r["peer"] not in ("local",)})
    noisy = [r for r in rows if r.get("foreign_load")]

    # Ratios and goals.
    ratios = []
    for mtu in mtus:
        for cfg in NVMEOE_CONFIGS:
            for wl, _ in WORKLOADS:
                nv = find(rows, cfg, wl, mtu)
                if not nv or not nv["ok"]:
                    continue
                for peer in ("nbd", "iscsi", "local", "baseline"):
                    pr = find(rows, peer, wl, None if peer == "local" else mtu)
                    if not pr or not pr["ok"]:
                        continue
                    ratios.append({
                        "mtu": mtu, "config": cfg, "workload": wl, "against": peer,
                        "iops": ratio(nv.get("iops"), pr.get("iops")),
                        "mib_s": ratio(nv.get("mib_s"), pr.get("mib_s")),
                        "lat_p50": ratio(nv.get("lat_p50_us"), pr.get("lat_p50_us")),
                        "lat_mean": ratio(nv.get("lat_mean_us"), pr.get("lat_mean_us")),
                        "cpu_s_per_gib": ratio(nv.get("cpu_s_per_gib"), pr.get("cpu_s_per_gib")),
                        "run_cpu_s_per_gib": ratio(nv.get("run_cpu_s_per_gib"), pr.get("run_cpu_s_per_gib")),
                        "foreign_load": bool(nv.get("foreign_load") or pr.get("foreign_load")),
                    })
            # Frames per second, both directions of the host's link, against the bare frame rate
            # of the same veth (one sender into one receive ring, nothing else running).
            raw = find(rows, "rawlink", "frames", mtu)
            if raw and raw["ok"] and raw.get("frames_per_s"):
                for wl, _ in WORKLOADS:
                    nv = find(rows, cfg, wl, mtu)
                    if nv and nv["ok"] and nv.get("frames_per_s"):
                        ratios.append({"mtu": mtu, "config": cfg, "workload": wl, "against": "raw frame limit",
                                       "frames_per_s": ratio(nv["frames_per_s"], raw["frames_per_s"]),
                                       "foreign_load": bool(nv.get("foreign_load") or raw.get("foreign_load"))})
            nv = find(rows, cfg, "r128k_qd8", mtu)
            ip = find(rows, "iperf3", "tcp", mtu)
            if nv and ip and nv["ok"] and ip["ok"]:
                ratios.append({"mtu": mtu, "config": cfg, "workload": "r128k_qd8", "against": "iperf3",
                               "mib_s": ratio(nv["mib_s"], ip["mib_s"]),
                               "foreign_load": bool(nv.get("foreign_load") or ip.get("foreign_load"))})
            # The data digest's cost: defaults against the same point without it.
            if cfg == "nvmeoe":
                for wl in ("rr4k_qd32", "r128k_qd8"):
                    on, off = find(rows, "nvmeoe", wl, mtu), find(rows, "nvmeoe-nodd", wl, mtu)
                    if on and off and on["ok"] and off["ok"]:
                        ratios.append({"mtu": mtu, "config": cfg, "workload": wl, "against": "--no-data-digest",
                                       "iops": ratio(on.get("iops"), off.get("iops")),
                                       "mib_s": ratio(on.get("mib_s"), off.get("mib_s")),
                                       "lat_p50": ratio(on.get("lat_p50_us"), off.get("lat_p50_us")),
                                       "lat_mean": ratio(on.get("lat_mean_us"), off.get("lat_mean_us")),
                                       "cpu_s_per_gib": ratio(on.get("cpu_s_per_gib"), off.get("cpu_s_per_gib")),
                                       "run_cpu_s_per_gib": ratio(on.get("run_cpu_s_per_gib"),
                                                                  off.get("run_cpu_s_per_gib")),
                                       "foreign_load": bool(on.get("foreign_load") or off.get("foreign_load"))})
            # Queue scaling: the same 32 commands in flight on two I/O queues against one.
            two = find(rows, cfg, "rr4k_qd32_i2", mtu)
            one = find(rows, cfg, "rr4k_qd32", mtu)
            if two and one and two["ok"] and one["ok"]:
                ratios.append({"mtu": mtu, "config": cfg, "workload": "rr4k_qd32_i2", "against": "1 queue",
                               "iops": ratio(two.get("iops"), one.get("iops")),
                               "mib_s": ratio(two.get("mib_s"), one.get("mib_s")),
                               "lat_p50": ratio(two.get("lat_p50_us"), one.get("lat_p50_us")),
                               "lat_mean": ratio(two.get("lat_mean_us"), one.get("lat_mean_us")),
                               "cpu_s_per_gib": ratio(two.get("cpu_s_per_gib"), one.get("cpu_s_per_gib")),
                               "run_cpu_s_per_gib": ratio(two.get("run_cpu_s_per_gib"), one.get("run_cpu_s_per_gib")),
                               "foreign_load": bool(two.get("foreign_load") or one.get("foreign_load"))})

    def get_ratio(mtu, cfg, wl, against, key):
        if against == "frames":
            r = find(rows, cfg, wl, mtu)
            return (r.get(key) if r and r["ok"] else None), bool(r and r.get("foreign_load"))
        for r in ratios:
            if r["mtu"] == mtu and r["config"] == cfg and r["workload"] == wl and r["against"] == against:
                return r.get(key), r.get("foreign_load", False)
        return None, False

    goals = []
    for mtu in mtus:
        specs = [
            (f"4K randread QD32 IOPS >= {2.5 if mtu < 9000 else 3.0}x NBD", "rr4k_qd32", "nbd", "iops", ">=",
             2.5 if mtu < 9000 else 3.0),
            ("QD1 4K randread p50 <= 0.7x NBD", "rr4k_qd1", "nbd", "lat_p50", "<=", 0.7),
        ]
        if mtu >= 9000:
            specs.append(("128K read QD8 MiB/s >= 1.5x NBD", "r128k_qd8", "nbd", "mib_s", ">=", 1.5))
        else:
            specs.append(("128K read QD8 frames/s >= 90% of the raw frame limit", "r128k_qd8", "raw frame limit",
                          "frames_per_s", ">=", 0.9))
        specs.append(("QD1 4K randread p50 <= 1.0x the baseline revision", "rr4k_qd1", "baseline", "lat_p50", "<=",
                      1.0))
        # Frames per I/O (a measured value, not a ratio): both directions, from nvmeoe perf.
        specs.append((f"4K randread QD32 frames per I/O <= {3.3 if mtu < 9000 else 1.6}", "rr4k_qd32", "frames",
                      "frames_per_io", "<=", 3.3 if mtu < 9000 else 1.6))
        for wl, _ in WORKLOADS:
            if wl != "rr4k_qd32_i2":
                specs.append((f"CPU-s/GiB <= 0.5x NBD ({wl})", wl, "nbd", "cpu_s_per_gib", "<=", 0.5))
        if mtu == 9000:
            specs.append(("128K read MTU 9000 >= 60% of iperf3", "r128k_qd8", "iperf3", "mib_s", ">=", 0.6))
        specs.append(("2 queues > 1 queue, 4K randread QD32 IOPS", "rr4k_qd32_i2", "1 queue", "iops", ">", 1.0))
        for cfg in NVMEOE_CONFIGS:
            for name, wl, against, key, op, target in specs:
                v, fl = get_ratio(mtu, cfg, wl, against, key)
                if v is None:
                    met = None
                elif op == ">=":
                    met = v >= target
                elif op == ">":
                    met = v > target
                else:
                    met = v <= target
                g = {"mtu": mtu, "config": cfg, "goal": name, "ratio": v, "target": f"{op} {target}", "met": met,
                     "foreign_load": fl}
                if key == "cpu_s_per_gib":
                    # The same ratio from the run's own CPU time: less sensitive to foreign load.
                    g["run_cpu_ratio"], _ = get_ratio(mtu, cfg, wl, against, "run_cpu_s_per_gib")
                goals.append(g)

    result = {"meta": meta, "rows": rows, "ratios": ratios, "goals": goals, "micro": micro}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)

    L = []
    title = "nvmeoe side-by-side benchmark"
    if meta.get("quick"):
        title += " — QUICK NOISY CHECK (short points; not a result)"
    L.append(f"# {title}\n")
    L.append(f"Measured {meta['date']} on `{meta['host']['kernel']}`, {meta['host']['cpu']} "
             f"({meta['host']['cpus']} CPUs), {meta['host']['mem']}; tree `{meta['git']}`.\n")
    L.append("Every number below comes from one run of `bench/run.sh`: the same veth pair between two "
             "network namespaces, the same 2 GiB backing file on tmpfs, the peers measured one after "
             "the other. Performance is read as a **ratio against a peer of the same run**; the "
             "absolute numbers depend on the machine and its load.\n")
    L.append(f"Points of {meta['seconds']} s each. CPU: machine CPU-seconds (user+nice+system+irq+"
             "softirq from /proc/stat) over a steady window inside each point, divided by the data "
             "(GiB) or I/Os (millions) moved in that window; *run CPU* counts only the benchmark's "
             "own processes and ksoftirqd. Latencies in µs, per I/O from submission to completion.\n")
    L.append("Tools: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".\n")
    if meta.get("baseline"):
        L.append(f"*baseline*: nvmeoe built from revision `{meta['baseline']}` (`bench/run.sh --baseline`), its target "
                 "and `nvmeoe perf` with their defaults, measured in this run on the same link and file.\n")
    if noisy:
        L.append(f"**{len(noisy)} of {len(rows)} points were measured under foreign load** (marked ⚠: "
                 f"CPU time of processes outside the run above {FOREIGN_CPU_LIMIT:.2f} CPU during the "
                 "window). Their numbers and every ratio built on them are not conclusive.\n")
    else:
        L.append("No point was measured under foreign load.\n")

    for mtu in mtus:
        L.append(f"\n## MTU {mtu}\n")
        raw = find(rows, "rawlink", "frames", mtu)
        raw_fps = raw.get("frames_per_s") if raw and raw["ok"] else None
        if raw_fps:
            L.append(f"Raw frame limit of this veth: **{raw_fps:,.0f} frames/s** of {mtu} bytes (nvmeoe-rawsend "
                     "--mode flood into a bare receive ring, nothing else running); the *frames* columns give "
                     "nvmeoe's frames per I/O (both directions) and its frames/s as a share of that limit.\n")
        elif raw:
            L.append(f"Raw frame limit: failed ({raw.get('error', '')[:120]}).\n")
        L.append("| workload | peer | IOPS | MiB/s | mean µs | p50 µs | p99 µs | CPU-s/GiB | CPU-s/M I/O "
                 "| run CPU-s/GiB | CPUs busy | foreign CPUs | load | frames/I/O | % raw limit |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for wl, wname in WORKLOADS:
            for peer, pname in PEERS:
                r = find(rows, peer, wl, None if peer == "local" else mtu)
                if r is None:
                    continue
                label = pname + (" ⚠" if r.get("foreign_load") else "")
                if not r["ok"]:
                    L.append(f"| {wname} | {label} | failed: {r.get('error', '')[:120]} |||||||||||")
                    continue
                w = r.get("window") or {}
                mean = fmt(r.get("lat_mean_us"))
                if r.get("lat_mean_derived"):
                    mean = f"~{mean}"
                share = (f"{100 * r['frames_per_s'] / raw_fps:.0f}%" if raw_fps and r.get("frames_per_s") else "-")
                L.append(f"| {wname} | {label} | {fmt(r.get('iops'))} | {fmt(r.get('mib_s'))} | {mean} | "
                         f"{fmt(r.get('lat_p50_us'))} | {fmt(r.get('lat_p99_us'))} | "
                         f"{fmt(r.get('cpu_s_per_gib'), 2)} | {fmt(r.get('cpu_s_per_mio'), 2)} | "
                         f"{fmt(r.get('run_cpu_s_per_gib'), 2)} | {fmt(r.get('cpus_busy'), 2)} | "
                         f"{fmt(w.get('foreign_cpus'), 2)} | {fmt((w.get('loadavg_start') or [None])[0], 2)} | "
                         f"{fmt(r.get('frames_per_io'), 2)} | {share} |")
            if wl in ("rw4k_qd32", "w128k_qd8") and find(rows, "iscsi", "rr4k_qd32", mtu):
                L.append(f"| {wname} | iSCSI | not measured: iscsi-perf only reads |||||||||||")
        ip = find(rows, "iperf3", "tcp", mtu)
        if ip:
            label = "iperf3 TCP, 1 stream" + (" ⚠" if ip.get("foreign_load") else "")
            if ip["ok"]:
                w = ip.get("window") or {}
                L.append(f"| link reference | {label} | - | {fmt(ip['mib_s'])} | - | - | - | "
                         f"{fmt(ip.get('cpu_s_per_gib'), 2)} | - | {fmt(ip.get('run_cpu_s_per_gib'), 2)} | "
                         f"{fmt(ip.get('cpus_busy'), 2)} | {fmt(w.get('foreign_cpus'), 2)} | "
                         f"{fmt((w.get('loadavg_start') or [None])[0], 2)} |")
            else:
                L.append(f"| link reference | {label} | failed: {ip.get('error', '')[:120]} |||||||||||")

    L.append("\n## Ratios (nvmeoe / peer)\n")
    L.append("Above 1 is better for IOPS and MiB/s; below 1 is better for latency and CPU.\n")
    L.append("| MTU | nvmeoe | workload | against | IOPS | MiB/s | p50 latency | mean latency | CPU-s/GiB | "
             "run CPU-s/GiB | frames/s |")
    L.append("|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in ratios:
        L.append(f"| {r['mtu']} | {r['config']} | {r['workload']} | {r['against']}{' ⚠' if r['foreign_load'] else ''} | "
                 f"{fmt(r.get('iops'), 2)} | {fmt(r.get('mib_s'), 2)} | {fmt(r.get('lat_p50'), 2)} | "
                 f"{fmt(r.get('lat_mean'), 2)} | {fmt(r.get('cpu_s_per_gib'), 2)} | "
                 f"{fmt(r.get('run_cpu_s_per_gib'), 2)} | {fmt(r.get('frames_per_s'), 2)} |")

    L.append("\n## Goals\n")
    L.append("CPU goals are judged on machine CPU-s/GiB; the ratio of the run's own CPU time is shown "
             "beside it (it leaves out foreign processes, but also idle-context softirq work).\n")
    L.append("| MTU | nvmeoe | goal | ratio | target | met | run-CPU ratio |")
    L.append("|---:|---|---|---:|---|---|---:|")
    for g in goals:
        met = "n/a" if g["met"] is None else ("yes" if g["met"] else "no")
        if g["foreign_load"] and g["met"] is not None:
            met += " (⚠ foreign load: not conclusive)"
        L.append(f"| {g['mtu']} | {g['config']} | {g['goal']} | {fmt(g['ratio'], 2)} | {g['target']} | {met} | "
                 f"{fmt(g.get('run_cpu_ratio'), 2)} |")

    L.append("\n## What could not be measured\n")
    for note in meta.get("notes", []):
        L.append(f"- {note}")

    if micro:
        L.append("\n## Microbenchmarks (`nvmeoe_micro`, Google Benchmark)\n")
        L.append("Bytes/s of a frame decode without a data digest counts payload bytes that are not "
                 "read (only the header is checked); items/s is the meaningful rate there.\n")
        L.append("| benchmark | CPU ns | bytes/s | items/s |")
        L.append("|---|---:|---:|---:|")
        for b in micro.get("benchmarks", []):
            if b.get("run_type") == "aggregate":
                continue
            bps = b.get("bytes_per_second")
            ips = b.get("items_per_second")
            L.append(f"| {b['name']} | {b['cpu_time']:.1f} | "
                     f"{(f'{bps / 2**30:.2f} GiB/s') if bps else '-'} | "
                     f"{(f'{ips / 1e6:.2f} M/s') if ips else '-'} |")

    L.append("\n## Commands\n")
    L.append("Servers, in the target namespace:\n")
    for c in meta.get("servers", []):
        L.append(f"- `{c}`")
    L.append("")
    L.append("<details><summary>Every measured command</summary>\n")
    for r in rows:
        L.append(f"- MTU {r['mtu']}, {r['peer']}, {r['workload']}: `{r['cmd']}`")
    L.append("\n</details>\n")
    with open(a.md, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)
    w = sub.add_parser("window")
    w.add_argument("--root", type=int, required=True)
    w.add_argument("--delay", type=float, required=True)
    w.add_argument("--length", type=float, required=True)
    w.add_argument("--out", required=True)
    r = sub.add_parser("row")
    r.add_argument("--kind", required=True)
    r.add_argument("--peer", required=True)
    r.add_argument("--workload", required=True)
    r.add_argument("--mtu", type=int, required=True)
    r.add_argument("--seconds", type=float, required=True)
    r.add_argument("--qd", type=int, default=1)
    r.add_argument("--rc", type=int, required=True)
    r.add_argument("--output", required=True)
    r.add_argument("--window", required=True)
    r.add_argument("--cmd", required=True)
    rp = sub.add_parser("report")
    rp.add_argument("--rows", required=True)
    rp.add_argument("--meta", required=True)
    rp.add_argument("--micro")
    rp.add_argument("--json", required=True)
    rp.add_argument("--md", required=True)
    a = p.parse_args()
    {"window": cmd_window, "row": cmd_row, "report": cmd_report}[a.sub](a)


if __name__ == "__main__":
    sys.exit(main())
