#!/usr/bin/env python3
"""bench/sched_table.py GRID_JSON [EXPECTED_CSV] — turns `suanchi sched-bench --json` output into the
markdown tables of docs/benchmarks.md: allocation at 100% arrived per trace and policy (ours, with the
paper's figure in parentheses when known), suanchi minus fgd, and the speed table."""
import csv, json, sys

POL = ["random", "dotprod", "gpu-clustering", "gpu-packing", "best-fit", "fgd", "suanchi"]
PAPER = {"01-Random": "random", "02-DotProd": "dotprod", "03-GpuClustering": "gpu-clustering",
         "04-GpuPacking": "gpu-packing", "05-BestFit": "best-fit", "06-FGD": "fgd"}

o = json.load(open(sys.argv[1]))
paper = {}
if len(sys.argv) > 2:
    for row in csv.DictReader(open(sys.argv[2])):
        if row["policy"] in PAPER:
            paper[(row["trace"], PAPER[row["policy"]], int(row["arrived_pct"]))] = float(row["alloc_pct_mean"])
res = {(r["trace"], r["policy"], r["arrived_pct"]): r for r in o["results"]}
traces = []
for r in o["results"]:
    if r["trace"] not in traces:
        traces.append(r["trace"])
for pct in (100, 130):
    print(f"\nGPU allocation (%) at {pct}% arrived, mean of {o['seeds']} seeds; paper in parentheses:\n")
    print("| trace | " + " | ".join(POL) + " | suanchi − fgd |")
    print("|---" * (len(POL) + 2) + "|")
    for t in traces:
        cells = []
        for p in POL:
            r = res.get((t, p, pct))
            if not r:
                cells.append("")
                continue
            c = f"{r['alloc_pct']:.2f}"
            if (t, p, pct) in paper:
                c += f" ({paper[(t, p, pct)]:.2f})"
            cells.append(c)
        d = ""
        if (t, "fgd", pct) in res and (t, "suanchi", pct) in res:
            d = f"{res[(t, 'suanchi', pct)]['alloc_pct'] - res[(t, 'fgd', pct)]['alloc_pct']:+.2f}"
        print(f"| {t} | " + " | ".join(cells) + f" | {d} |")
print("\n| policy | decisions | decisions/s | p99 per decision (µs) |\n|---|---|---|---|")
for s in o["speed"]:
    print(f"| {s['policy']} | {s['decisions']:,} | {s['decisions_per_s']:,.0f} | {s['p99_decision_us']:.1f} |")
