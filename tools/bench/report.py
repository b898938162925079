# SPDX-License-Identifier: BSD-2-Clause
"""build/bench/report.md and the PNG plots, from bench.py's results only.

Nothing here measures: every figure comes from results.json of the same
run. Medians over the interleaved rounds; ratios are taken round by round
against direct (same round, so noise hits both) and their median shown.
"""
import json
import os
import statistics
import subprocess
import sys

TARGET_TEXT = {
    "sock_vs_direct": "socket layer ≥ 0.98× direct at 1 service",
    "sock_scale": "socket layer within 3 % of its own 1-service figure at "
                  "100k (here: the largest N run)",
    "sock_vs_iptables": "socket layer ≥ 1.5× iptables at 10k services",
    "sock_vs_nft": "socket layer ≥ nftables at every scale",
    "sock_vs_haproxy": "socket layer ≥ 2× HAProxy",
    "tc_ns": "TC layer ≤ 100 ns per established-flow packet",
    "install_vs_nft": "10k routes installed no slower than `nft -f` of the "
                      "same 10k services (same run)",
    "apply_100k": "100k routes applied ≤ 3 s",
    "one_route_10ms": "a one-route change at the largest N applied ≤ 10 ms",
    "switch_10ms": "a split change live ≤ 10 ms",
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=",.0f", none="–"):
    return none if x is None else format(x, spec)


def short_n(n):
    n = int(n)
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def scale_stats(res, name):
    """Median rate, spread, p50, p99 and median ratio to direct."""
    rounds = res["rounds"].get(name)
    if not rounds:
        return None
    rates = [r["rate"] for r in rounds]
    direct = res["rounds"].get("direct", [])
    ratios = [r["rate"] / d["rate"] for r, d in zip(rounds, direct)
              if d["rate"]]
    return {
        "rate": med(rates), "min": min(rates), "max": max(rates),
        "p50": med([r["p50_us"] for r in rounds]),
        "p99": med([r["p99_us"] for r in rounds]),
        "ratio": med(ratios) if ratios else None,
        "ratios": ratios,
        "errors": sum(r["errors"] for r in rounds),
        "conns": sum(r["conns"] for r in rounds),
        "rates": rates,
        "replies": {k: sum(r["replies"].get(k, 0) for r in rounds)
                    for k in ("A", "B")},
    }


def ratio_between(res, a, b):
    """Median over rounds of rate(a)/rate(b) (same round)."""
    ra, rb = res["rounds"].get(a), res["rounds"].get(b)
    if not ra or not rb:
        return None
    return med([x["rate"] / y["rate"] for x, y in zip(ra, rb) if y["rate"]])


def render(R, out):
    systems = R["systems"]
    scales = sorted(R["scales"], key=int)
    notes = R["notes"]
    L = []
    w = L.append
    w("# steer benchmark: against what users would pick instead\n")
    w(f"Run of `make bench{' (quick)' if notes['args'].get('quick') else ''}`"
      f" on kernel {notes['kernel']}, {notes['cpus']} CPUs ({notes['cpu']}), "
      f"{notes['mem_gib']} GiB; {notes['duration_s']} s in all. Every figure "
      "below was measured in this run; rates are connections per second of "
      "one closed-loop client (connect → 1-byte request → 1-byte reply → "
      "close), medians over the interleaved rounds with min–max, ratios "
      "taken round by round against direct.\n")

    # ---- main table ----------------------------------------------------
    first = scales[0]
    res = R["scales"][first]
    w(f"## Connection setup, {short_n(first)} service(s), 90/10 split\n")
    w("| system | conns/s (median) | min–max | × direct | connect p50 µs "
      "| connect p99 µs | split seen (v1 %) | errors |")
    w("|---|---:|---|---:|---:|---:|---:|---:|")
    for s in systems:
        st = scale_stats(res, s["name"])
        if not st:
            w(f"| {s['label']} | {res['skipped'].get(s['name'], s['note'])} "
              "| | | | | | |")
            continue
        tot = st["replies"]["A"] + st["replies"]["B"]
        v1 = 100 * st["replies"]["A"] / tot if tot else None
        w(f"| {s['label']} | {fmt(st['rate'])} | {fmt(st['min'])}–"
          f"{fmt(st['max'])} | {fmt(st['ratio'], '.3f')} | "
          f"{fmt(st['p50'], '.1f')} | {fmt(st['p99'], '.1f')} | "
          f"{fmt(v1, '.1f') if s['name'] != 'direct' else '(v1 only)'} | "
          f"{st['errors']} |")
    w("")

    # ---- scale -----------------------------------------------------------
    w("## Scale: conns/s (× direct) with N services installed\n")
    w("The measured service is the last one in rule order for iptables; "
      "the others are fillers with their own VIPs and backends.\n")
    w("| system | " + " | ".join(f"N={short_n(n)}" for n in scales) +
      " | largest N vs own N=1 |")
    w("|---|" + "---:|" * len(scales) + "---:|")
    for s in systems:
        cells, base, last = [], None, None
        for n in scales:
            st = scale_stats(R["scales"][n], s["name"])
            if st:
                cells.append(f"{fmt(st['rate'])} ({fmt(st['ratio'], '.2f')}×)")
                if base is None:
                    base = st["ratio"]
                last = st["ratio"]
            else:
                why = R["scales"][n]["skipped"].get(s["name"], "–")
                cells.append("n/a" if "not available" in why else
                             "not run" if why.startswith("not run") else
                             "failed")
        drift = (f"{100 * (last / base - 1):+.1f} %" if base and last and
                 len(cells) > 1 else "–")
        w(f"| {s['label']} | " + " | ".join(cells) + f" | {drift} |")
    w("\n(The drift column compares the ratios to direct, so that a noisy "
      "round moves both.)\n")
    skipped = {}
    for n in scales:
        for name, why in R["scales"][n]["skipped"].items():
            skipped.setdefault(why, []).append(f"{name} at N={short_n(n)}")
    if skipped:
        w("Not measured:\n")
        for why, where in skipped.items():
            w(f"- {', '.join(where)}: {why}")
        w("")

    w("## Install time for N services (s)\n")
    w("| system | " + " | ".join(f"N={short_n(n)}" for n in scales) + " |")
    w("|---|" + "---:|" * len(scales))
    for s in systems:
        if not any(s["name"] in R["scales"][n]["install_s"] for n in scales) \
                and s["available"]:
            continue  # nothing to install (direct, the 1-route reference)
        cells = [fmt(R["scales"][n]["install_s"].get(s["name"]), ".3f")
                 for n in scales]
        w(f"| {s['label']} | " + " | ".join(cells) + " |")
    w("\nsteer: SIGHUP to steerd's 'applied' log line (parse, compile, "
      "publish every changed route); iptables: `iptables-restore` of the "
      "whole nat table; nftables: `nft -f`; proxies: start until the "
      "measured service answers. steer's two layers share one steerd and "
      "one set of maps.\n")

    # ---- control plane -------------------------------------------------
    w("## steer control plane\n")
    w("| N routes | apply s | one route changed ms | `steerctl set` ms | "
      "set → live ms (median, min–max) | steerd RSS / peak MiB | map "
      "memory MiB (routes + fixed) | route rows B | connect4 ns/call |")
    w("|---:|---:|---:|---:|---|---:|---:|---:|---:|")
    for n in scales:
        c = R["scales"][n].get("control")
        if not c:
            continue
        lv = c.get("switch_live_ms") or []
        per = c["inner_bytes"] / c["n_inner"] if c.get("n_inner") else None
        w(f"| {short_n(n)} | "
          f"{fmt(R['scales'][n]['install_s'].get('steer-sock'), '.3f')} | "
          f"{fmt(med(c.get('one_route_apply_ms', [])), '.1f')} | "
          f"{fmt(med(c.get('switch_cmd_ms', [])), '.1f')} | "
          f"{fmt(med(lv), '.2f')} ({fmt(min(lv) if lv else None, '.2f')}–"
          f"{fmt(max(lv) if lv else None, '.2f')}) | "
          f"{fmt(c.get('VmRSS', 0) / 2**20, '.1f')} / "
          f"{fmt(c.get('VmHWM', 0) / 2**20, '.1f')} | "
          f"{fmt(c['map_bytes'] / 2**20, ',.1f')} ("
          f"{fmt(c['inner_bytes'] / 2**20, ',.1f')} + "
          f"{fmt((c['map_bytes'] - c['inner_bytes']) / 2**20, ',.1f')}) | "
          f"{fmt(per)} | "
          f"{fmt(c.get('hook_ns'), '.0f')} "
          f"({fmt(c.get('hook_ref_ns'), '.0f')}) |")
    per = notes.get("route_bytes")
    if per:
        w(f"\nEach route is an inner array map of 64-byte rows sized to what "
          f"it holds (header, rules, versions, backend references; selection "
          f"tables only for affinity or unequal weights): {per:,.0f} bytes "
          f"of map memory for the routes here (1 rule, 2 versions, 1 backend "
          f"each). Backend addresses are stored once, in steer_backends_v2. "
          f"The 'fixed' part is the maps sized by `--max-routes` "
          f"({notes['args']['steer_max']:,} here): frontends, the route "
          f"index, backends and the per-CPU counters. `sudo "
          f"tools/bench/map_memory.sh N` gives the memory a route adds.\n")
    w("One route changed: the file of N routes rewritten with one route's "
      "split changed, SIGHUP to steerd's 'applied' log line (as seen by this "
      "script, polling the log). ")
    w("set → live: a client connects in a closed loop on a 100/0 split; "
      "`steerctl set bench v1=0 v2=100` starts at t0; the figure is when "
      "the first connection that reached v2 started (an upper bound on "
      "when the change was live). `steerctl set` ms is the command's whole "
      "run (process start, opening the pins, finding the route, publishing)."
      "\n")

    # ---- per-invocation ------------------------------------------------
    hook = R.get("hook", {})
    w("## Per-invocation cost\n")
    c4 = hook.get("connect4", {})
    if c4:
        s_, e_ = med(c4.get("steer", [])), med(c4.get("empty", []))
        w(f"- connect4 (kernel run-time stats, run_time_ns / run_cnt, "
          f"{len(c4.get('steer', []))} interleaved runs each): steer "
          f"{fmt(s_, '.0f')} ns, empty program attached the same way "
          f"{fmt(e_, '.0f')} ns, steer's own work "
          f"**{fmt(s_ - e_ if s_ and e_ else None, '.0f')} ns per connect()**.")
    tc = hook.get("tc", {})
    if tc:
        e_ = med(tc.get("empty", []))
        if tc.get("steer"):
            s_ = med(tc["steer"])
            w(f"- TC (BPF_PROG_TEST_RUN against the live maps, one packet "
              f"per call, median of {notes['args'].get('testrun_calls')} "
              f"calls, 3 times): an ACK of an established flow through "
              f"steer_tc_ingress {s_} ns, the empty TC program {e_} ns, "
              f"steer's own work **{s_ - e_} ns per packet** (return values "
              f"SYN/ACK: {tc.get('retval')}; the ACK left the program "
              f"addressed to {tc.get('ack_daddr_out')}, i.e. "
              f"{'DNATed to a backend' if tc.get('ack_daddr_out', '').startswith('10.244.') else 'not translated'}).")
        elif tc.get("steer") is not None:
            w(f"- TC: the test run of steer's program failed: "
              f"{tc.get('error', '?')}; empty program {fmt(e_, '.0f')} ns.")
        else:
            w(f"- TC: empty program {fmt(e_, '.0f')} ns per test run; steer's "
              "TC layer is not available on this branch, so its figure is "
              "missing.")
    w("")

    # ---- split -----------------------------------------------------------
    if R.get("split"):
        w("## Split accuracy (socket layer, real connections)\n")
        w("| split v1/v2 | connections | v1 seen | v2 seen | v1 % seen | "
          "chi-square | p-value |")
        w("|---|---:|---:|---:|---:|---:|---:|")
        for sp in R["split"]:
            a, b = sp["got"]
            w(f"| {sp['want'][0]}/{sp['want'][1]} | {a + b:,} | {a:,} | "
              f"{b:,} | {100 * a / max(a + b, 1):.3f} | {sp['chi2']:.3f} | "
              f"{sp['p']:.3f} |")
        w("\nWithout affinity steer takes the k-th point of a per-route, "
          "per-CPU Weyl sequence, not a random draw, so the shares are met "
          "almost exactly and the p-value is high by construction; a "
          "p-value near 0 would mean a biased split.\n")

    # ---- targets ---------------------------------------------------------
    w("## Targets\n")
    for key, (ok, detail) in targets(R).items():
        mark = "met" if ok is True else "missed" if ok is False else "not measured"
        w(f"- **{mark}**: {TARGET_TEXT[key]}: {detail}")
    w("")

    # ---- notes -----------------------------------------------------------
    a = notes["args"]
    w("## Machine, placement, noise\n")
    w(f"- {notes['cpus']} CPUs, {notes['mem_gib']} GiB, kernel "
      f"{notes['kernel']}; load average {notes['load_before'][0]:.2f} before, "
      f"{notes['load_after'][0]:.2f} after. The machine is shared: other "
      "work ran beside this one.")
    w(f"- Client: {len(a['cpus'].split(','))} thread(s), pinned to CPU(s) "
      f"{a['cpus']}; backends: {a['server_threads']} accept threads per "
      f"address, unpinned; proxies: {a['proxy_threads']} threads/workers, "
      "unpinned. Each system has its own client/router/backend namespaces "
      "joined by veth pairs; nothing ran in the host's namespace or root "
      "cgroup.")
    w(f"- {a['rounds']} rounds of {a['seconds']} s per system and scale "
      f"({a['warmup']} s warm-up each), systems interleaved and the order "
      "rotated every round.")
    cv = []
    for n in scales:
        st = scale_stats(R["scales"][n], "direct")
        if st and len(st["rates"]) > 1:
            cv.append(100 * statistics.pstdev(st["rates"]) /
                      statistics.mean(st["rates"]))
    if cv:
        w(f"- Noise: direct's rate varied by {min(cv):.1f}–{max(cv):.1f} % "
          "(coefficient of variation over rounds) at the different scales: "
          "differences smaller than that are not resolved.")
    w(f"- {notes['iptables']}; {notes['nft']}; {notes['haproxy']}; "
      f"{notes['nginx']}.")
    for s in systems:
        w(f"- {s['label']}: {s['note']}")
    w("\nPlots: `rate_vs_services.png` (conns/s), `ratio_vs_services.png` "
      "(× direct), `p99_vs_services.png`.\n")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    plots(R, out)


def targets(R):
    scales = sorted(R["scales"], key=int)
    S = R["scales"]
    t = {}
    one = S.get("1")
    st = scale_stats(one, "steer-sock") if one else None
    t["sock_vs_direct"] = ((st["ratio"] >= 0.98, f"{st['ratio']:.3f}× at 1 "
                            "service") if st and st["ratio"] else
                           (None, "no 1-service run"))
    have = [n for n in scales if scale_stats(S[n], "steer-sock")]
    paired = [(n, ratio_between(S[n], "steer-sock", "steer-sock-1"))
              for n in have]
    paired = [(n, r) for n, r in paired if r]
    if paired:
        big, r = paired[-1]
        d = 100 * (r - 1)
        t["sock_scale"] = (abs(d) <= 3, f"{d:+.1f} % at N={short_n(big)} "
                           "(steer at N over steer with 1 route, same "
                           "round, median; all: " + ", ".join(
                               f"{100 * (x - 1):+.1f} % at {short_n(n)}"
                               for n, x in paired) + ")" +
                           ("; 100k not run: memory, see control plane"
                            if int(big) < 100000 else ""))
    elif st and len(have) > 1:
        big = have[-1]
        last = scale_stats(S[big], "steer-sock")["ratio"]
        d = 100 * (last / st["ratio"] - 1)
        t["sock_scale"] = (abs(d) <= 3, f"{d:+.1f} % at N={short_n(big)}")
    else:
        t["sock_scale"] = (None, "one scale only")
    if "10000" in S:
        r = ratio_between(S["10000"], "steer-sock", "iptables")
        t["sock_vs_iptables"] = ((r >= 1.5, f"{r:.2f}× at 10k") if r else
                                 (None, "not run at 10k"))
    else:
        t["sock_vs_iptables"] = (None, "10k not in this run")
    rs = [(n, ratio_between(S[n], "steer-sock", "nftables")) for n in scales]
    rs = [(n, r) for n, r in rs if r]
    t["sock_vs_nft"] = ((all(r >= 1 for _, r in rs), ", ".join(
        f"{r:.2f}× at {short_n(n)}" for n, r in rs)) if rs else
        (None, "no pair measured"))
    rh = [(n, ratio_between(S[n], "steer-sock", "haproxy")) for n in scales]
    rh = [(n, r) for n, r in rh if r]
    t["sock_vs_haproxy"] = ((all(r >= 2 for _, r in rh), ", ".join(
        f"{r:.2f}× at {short_n(n)}" for n, r in rh)) if rh else
        (None, "no pair measured"))
    tc = R.get("hook", {}).get("tc", {})
    if tc.get("steer"):
        d = med(tc["steer"]) - med(tc["empty"])
        t["tc_ns"] = (d <= 100, f"{d:.0f} ns per established-flow packet "
                      "(BPF_PROG_TEST_RUN minus the empty program)")
    else:
        t["tc_ns"] = (None, "TC layer not on this branch")
    big = max((int(n) for n in scales
               if "steer-sock" in S[n]["install_s"]), default=None)
    if big:
        a = S[str(big)]["install_s"]["steer-sock"]
        t["apply_100k"] = ((a <= 3, f"{a:.3f} s") if big >= 100000 else
                           (None, f"largest run {short_n(big)}: {a:.3f} s"))
        one = med(S[str(big)].get("control", {}).get("one_route_apply_ms",
                                                     []))
        t["one_route_10ms"] = ((one <= 10, f"{one:.1f} ms at "
                                f"{short_n(big)}") if one is not None else
                               (None, "not measured"))
    else:
        t["apply_100k"] = (None, "no apply measured")
        t["one_route_10ms"] = (None, "no apply measured")
    inst = S.get("10000", {}).get("install_s", {})
    if "steer-sock" in inst and "nftables" in inst:
        r = inst["steer-sock"] / inst["nftables"]
        t["install_vs_nft"] = (r <= 1, f"steer {inst['steer-sock']:.3f} s, "
                               f"nft {inst['nftables']:.3f} s: {r:.2f}×")
    else:
        t["install_vs_nft"] = (None, "10k not installed by both")
    lv = [(n, med(S[n]["control"].get("switch_live_ms", [])))
          for n in scales if S[n].get("control")]
    lv = [(n, x) for n, x in lv if x is not None]
    t["switch_10ms"] = ((all(x <= 10 for _, x in lv), ", ".join(
        f"{x:.2f} ms at {short_n(n)}" for n, x in lv)) if lv else
        (None, "not measured"))
    return t


def plots(R, out):
    scales = sorted(R["scales"], key=int)
    systems = [s for s in R["systems"] if s["available"]]
    data = os.path.join(out, "rate_vs_services.dat")
    with open(data, "w") as f:
        for s in systems:
            f.write(f"# {s['name']}\n")
            for n in scales:
                st = scale_stats(R["scales"][n], s["name"])
                if st:
                    f.write(f"{n} {st['rate']:.1f} {st['min']:.1f} "
                            f"{st['max']:.1f} {st['ratio'] or 0:.4f} "
                            f"{st['p99']:.2f}\n")
            f.write("\n\n")
    titles = ", ".join(f"'{data}' index {i} using 1:{{col}} with "
                       f"linespoints lw 2 title '{s['label']}'"
                       for i, s in enumerate(systems))
    common = ("set terminal pngcairo size 900,640 font 'sans,10'\n"
              "set logscale x\nset xlabel 'services installed'\n"
              "set key below maxrows 3\nset grid\n"
              f"set xrange [0.7:{int(scales[-1]) * 1.5}]\n")
    script = (common +
              f"set output '{out}/rate_vs_services.png'\n"
              "set ylabel 'connections/s (median)'\nset yrange [0:*]\n"
              f"plot {titles.format(col=2)}\n"
              f"set output '{out}/ratio_vs_services.png'\n"
              "set ylabel 'rate / direct (same round)'\n"
              f"plot {titles.format(col=5)}\n"
              f"set output '{out}/p99_vs_services.png'\n"
              "set ylabel 'connect() p99, µs'\nset logscale y\n"
              "set yrange [*:*]\n"
              f"plot {titles.format(col=6)}\n")
    r = subprocess.run(["gnuplot"], input=script, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode:
        print(f"bench: gnuplot: {r.stderr.strip()}", file=sys.stderr)


if __name__ == "__main__":
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    with open(os.path.join(d, "results.json")) as f:
        render(json.load(f), d)
