#!/usr/bin/env python3
"""Tables of medians and ratios from criterion's output of `cargo bench --bench encode`.

Reads target/criterion/<group>/<contender>/<readings>/new/estimates.json and prints, for each
group, the median time of every contender per reading count and its ratio to the floor (the
hand-written minimum) and to core::fmt. Usage: python3 benches/summary.py [target/criterion]
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def median(path):
    with open(path / "new" / "estimates.json") as f:
        return json.load(f)["median"]["point_estimate"]


def fmt_ns(ns):
    return f"{ns:,.0f} ns" if ns >= 100 else f"{ns:.1f} ns"


GROUPS = {
    "json": ("ryu_floor", ["sensorpub_object", "serde_json", "core_fmt", "ryu_floor"]),
    "json_fixed2": ("fixed_point_floor", ["sensorpub_object", "core_fmt", "fixed_point_floor"]),
    "thingspeak": ("ryu_floor", ["sensorpub_bulk", "core_fmt", "ryu_floor"]),
    "thingspeak_fixed2": ("fixed_point_floor", ["sensorpub_bulk", "core_fmt", "fixed_point_floor"]),
}

for group, (floor, contenders) in GROUPS.items():
    counts = sorted(int(p.name) for p in (root / group / floor).iterdir() if p.name.isdigit())
    print(f"\n### {group}: median per encode (ratio to {floor} / to core_fmt)\n")
    print("| contender | " + " | ".join(f"{n} reading{'s' if n > 1 else ''}" for n in counts) + " |")
    print("| --- |" + " ---: |" * len(counts))
    for c in contenders:
        cells = []
        for n in counts:
            t = median(root / group / c / str(n))
            f = median(root / group / floor / str(n))
            k = median(root / group / "core_fmt" / str(n))
            cells.append(f"{fmt_ns(t)} ({t / f:.2f}× / {t / k:.2f}×)")
        print(f"| {c} | " + " | ".join(cells) + " |")

single = root / "single_value"
if single.exists():
    print("\n### single value (one number; ratio to its ryu floor)\n")
    print("| contender | median | ratio to floor |")
    print("| --- | ---: | ---: |")
    for prefix, ours in (("json_value", "sensorpub_json_value"),
                         ("thingspeak_field", "sensorpub_thingspeak_field")):
        f = median(single / f"{prefix}_ryu_floor")
        for c in (ours, f"{prefix}_core_fmt", f"{prefix}_ryu_floor"):
            t = median(single / c)
            print(f"| {c} | {fmt_ns(t)} | {t / f:.2f}× |")

publish = root / "publish"
if publish.exists():
    counts = sorted(int(p.name) for p in (publish / "json_encode").iterdir() if p.name.isdigit())
    print("\n### publish_once (MockSensor → sink → MemoryTransport) vs encode alone\n")
    print("| sink | readings | encode | publish_once | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for sink in ("json", "thingspeak"):
        for n in counts:
            e = median(publish / f"{sink}_encode" / str(n))
            p = median(publish / f"{sink}_publish_once" / str(n))
            print(f"| {sink} | {n} | {fmt_ns(e)} | {fmt_ns(p)} | {p / e:.2f}× |")
