"""The footprint section's table: start-up times, then memory by process."""

from __future__ import annotations

from typing import Any


def _cell(value: float | None, width: int = 9) -> str:
    return f"{value:>{width}.1f}" if value is not None else f"{'n/a':>{width}}"


def _machine_load(part: dict[str, Any]) -> str:
    before, after = part.get("machine_load_1m") or (None, None)
    return f"machine load (1 min) {before} -> {after}" if before is not None else ""


def print_footprint(figures: dict[str, Any]) -> None:
    """Print `measure`'s result (either part may be missing) as the other sections do."""
    startup = figures.get("startup")
    if startup is not None:
        runs = startup["runs"]
        low, high = startup["spread"]
        tree = startup.get("tree_p50_s")
        machine = _machine_load(startup)
        print(f"start-up: scripts/start -> ready: ({len(runs)} runs, each stopped with "
              f"SIGTERM and proven gone before the next)")
        print(f"  p50 {startup['p50_s']:.3f} s (spread {low:.3f}-{high:.3f} s)"
              + (f"; of which the actor system and tree: p50 {tree:.3f} s"
                 if tree is not None else "")
              + (f"; {machine}" if machine else ""))
        print()
    mem = figures.get("memory")
    if mem is not None:
        load, settings = mem["load"], mem["settings"]
        print(f"memory by process, MB (idle {settings['idle_after_s']:g} s after ready; load: "
              f"{load['pegouts']:,} peg-outs in Batches of {settings['batch']}, "
              f"{settings['federation']} federation, {settings['inputs_per_pegout']} inputs, "
              f"sampled every {settings['sample_interval_s'] * 1000:.0f} ms; RSS includes "
              f"pages shared with the parent, USS only the process's own)")
        print(f"{'process':<20} {'pid':>7} {'idle RSS':>9} {'idle USS':>9} {'load RSS':>9} "
              f"{'load USS':>9} {'after RSS':>9} {'grow RSS':>9} {'grow USS':>9}")
        for role, row in mem["by_role"].items():
            print(f"{role:<20} {row['pid']:>7} " + " ".join(_cell(row[key]) for key in (
                "idle_rss_mb", "idle_uss_mb", "load_rss_mb_max", "load_uss_mb_max",
                "after_rss_mb", "growth_rss_mb", "growth_uss_mb")))
        print(f"  idle, highest actor process: RSS {mem['idle_rss_mb_max']:.1f} MB "
              f"({mem['idle_rss_mb_max_role']}), USS {mem['idle_uss_mb_max']:.1f} MB "
              f"({mem['idle_uss_mb_max_role']}); all processes together (PSS): "
              f"{mem['idle_pss_mb_total']:.1f} MB, {mem['idle_pss_mb_node']:.1f} MB without "
              f"the mock")
        rate = load["pegouts_per_s"]
        print(f"  load: {load['spooled']:,} of {load['pegouts']:,} peg-outs spooled"
              + (f" in {load['seconds']:.1f} s ({rate:,.1f}/s)" if rate is not None else "")
              + f"; {load['samples']} samples, {load['sample_cpu_ms']:.1f} ms of CPU each")
        if load["problem"]:
            print(f"  load: {load['problem']}")
        if machine := _machine_load(mem):
            print(f"  {machine}")
        if mem["restarted"]:
            print(f"  restarted meanwhile (no growth figure): {', '.join(mem['restarted'])}")
