"""From raw numbers to the figures the report states (ratios, shares of peak, targets)."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.config import COMPARE_NAMES, TARGETS
from benchmarks.stats import rates, summarize


# =========================================================================== analysis
def peak_gflops(results: dict) -> tuple[float | None, str]:
    """The machine limit: the best median matmul rate seen anywhere in the run (the largest denominator)."""
    candidates = []
    for key in ("peak", "peak_end"):
        for n, v in (results.get(key) or {}).items():
            candidates.append((v["median_gflops"], f"{key} {n}^3"))
    for r in (results.get("compare") or {}).get("rounds", []):
        if r.get("matmul"):
            candidates.append((r["matmul"]["median_gflops"], "compare rounds 2048^3"))
    if not candidates:
        return None, ""
    return max(candidates)


def analyze(results: dict) -> dict[str, Any]:
    """Derived numbers for the report: medians, ratios, utilization, target verdicts."""
    a: dict[str, Any] = {"targets": {}}
    peak, peak_where = peak_gflops(results)
    a["peak_gflops"], a["peak_where"] = peak, peak_where
    cmp_ = results.get("compare") or {}
    if cmp_.get("rounds"):
        names = [n for n in COMPARE_NAMES if n in cmp_["rounds"][0]]
        per = {n: summarize([x for r in cmp_["rounds"] for x in rates(r[n])]) for n in names}
        a["compare"] = per
        torch_names = [n for n in ("torch", "torch_1t") if n in names]
        a["torch_best"] = max(torch_names, key=lambda n: per[n]["median"] or 0) if torch_names else None
        paired = {}
        # Mechanics: ganzoo without XLA vs the reference (neither uses XLA); vs PyTorch: ganzoo as users run it.
        like_for_like = "ganzoo_no_xla" if "ganzoo_no_xla" in names else "ganzoo"
        for mine, other in ((like_for_like, "keras"), ("ganzoo", a["torch_best"])):
            if other in names:
                ratios = [
                    statistics.median(rates(r[mine])) / statistics.median(rates(r[other])) for r in cmp_["rounds"]
                ]
                paired["torch" if other.startswith("torch") else other] = summarize(ratios)
        a["compare_paired"] = paired
        flops = (cmp_.get("entries", {}).get("ganzoo") or {}).get("flops_per_step", {})
        a["compare_flops"] = flops
        round_peaks = [r["matmul"]["median_gflops"] for r in cmp_["rounds"] if r.get("matmul")]
        a["compare_round_peak"] = summarize(round_peaks)
        if flops and peak:
            for n in names:
                a.setdefault("compare_util", {})[n] = per[n]["median"] * flops["needed"] / 1e9 / peak
            same_round = [
                statistics.median(rates(r["ganzoo"])) * flops["needed"] / 1e9 / r["matmul"]["median_gflops"]
                for r in cmp_["rounds"]
                if r.get("matmul")
            ]
            a["compare_util_same_round"] = summarize(same_round)
        if "keras" in paired:
            v = paired["keras"]["median"]
            a["targets"]["vs_keras"] = {"value": v, "met": v >= TARGETS["vs_keras"]}
        if "torch" in paired:
            v = paired["torch"]["median"]
            a["targets"]["vs_torch"] = {"value": v, "met": v >= TARGETS["vs_torch"]}
        if a.get("compare_util"):
            v = a["compare_util"]["ganzoo"]
            a["targets"]["peak_fraction"] = {"value": v, "met": v >= TARGETS["peak_fraction"]}
    probes = results.get("probes") or {}
    if probes.get("rounds"):
        labels = list(probes["variants"])
        per = {l: summarize([x for r in probes["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        a["probes"] = per
        base = "ganzoo (baseline)"
        if base in labels:
            paired = {}
            for l in labels:
                ratios = [
                    statistics.median(rates(r[l])) / statistics.median(rates(r[base]))
                    for r in probes["rounds"]
                    if r.get(l) and r.get(base)
                ]
                paired[l] = summarize(ratios)
            a["probes_paired"] = paired
        ref = "keras reference"
        if ref in labels:
            a["probes_vs_ref"] = {
                l: summarize(
                    [
                        statistics.median(rates(r[l])) / statistics.median(rates(r[ref]))
                        for r in probes["rounds"]
                        if r.get(l) and r.get(ref)
                    ]
                )
                for l in labels
                if l.startswith("keras")
            }
    defaults = results.get("defaults") or {}
    if defaults.get("rounds"):
        labels, base = defaults["cases"], defaults["cases"][0]
        per = {l: summarize([x for r in defaults["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        paired = {
            l: summarize(
                [
                    statistics.median(rates(r[l])) / statistics.median(rates(r[base]))
                    for r in defaults["rounds"]
                    if r.get(l) and r.get(base)
                ]
            )
            for l in labels
        }
        a["defaults"] = {"per": per, "paired": paired}
    pipe = results.get("pipeline") or {}
    if pipe.get("rounds"):
        labels = [l for l in pipe["rounds"][0]]
        per = {l: summarize([x for r in pipe["rounds"] if r.get(l) for x in rates(r[l])]) for l in labels}
        a["pipeline"] = per
        mem, real = "batches in memory", "tf.data pipeline (ganzoo.data)"
        if mem in per and real in per and per[real]["median"]:
            paired = [
                statistics.median(rates(r[mem])) / statistics.median(rates(r[real])) - 1
                for r in pipe["rounds"]
                if r.get(mem) and r.get(real)
            ]
            overhead = per[mem]["median"] / per[real]["median"] - 1
            a["pipeline_overhead"] = {"median_of_all": overhead, "paired": summarize(paired)}
            a["targets"]["pipeline_overhead"] = {"value": overhead, "met": overhead < TARGETS["pipeline_overhead"]}
        a["callback_cost"] = {
            l: (per[real]["median"] / per[l]["median"] - 1) if per[l]["median"] else None
            for l in labels
            if l.startswith("pipeline +")
        }
    archs = results.get("archs") or {}
    a["archs"] = {}
    for arch, e in archs.items():
        if "runs" not in e:
            continue
        row = {"fit": summarize([x for run in e["runs"].get("fit", []) for x in rates(run)])}
        if e["runs"].get("xla"):
            row["xla"] = summarize([x for run in e["runs"]["xla"] for x in rates(run)])
        info = e.get("info") or {}
        row["batch"] = info.get("batch")
        flops = (info.get("flops_per_step") or {}).get("needed")
        method = "analytic"
        if not flops and e.get("flops_profiler"):
            flops = e["flops_profiler"]["mac_flops"]
            method = "TF graph"
        row["flops"], row["flops_method"] = flops, method if flops else None
        if flops and peak and row["fit"]["median"]:
            row["util"] = row["fit"]["median"] * flops / 1e9 / peak
            if row.get("xla", {}).get("median"):
                row["util_xla"] = row["xla"]["median"] * flops / 1e9 / peak
        a["archs"][arch] = row
    inf = results.get("inference") or {}
    ratios, colds = [], []
    for name, m in (inf.get("models") or {}).items():
        if not m:
            continue
        b = m["backends"]
        sm = b.get("savedmodel serve", {}).get("1", {}).get("median_ms")
        onnx = {k: v["1"]["median_ms"] for k, v in b.items() if k.startswith("onnx") and "1" in v}
        tuned = min(onnx.values()) if onnx else None
        library = next((v for k, v in onnx.items() if k.startswith("onnx (")), None)
        if sm and tuned:
            ratios.append((name, sm / tuned, sm / library if library else None))
    if ratios:
        worst = min(r[1] for r in ratios)
        a["onnx_ratios"] = ratios
        a["targets"]["onnx_vs_savedmodel_b1"] = {
            "value": worst,
            "met": worst >= TARGETS["onnx_vs_savedmodel_b1"],
            "library_default": min((r[2] for r in ratios if r[2]), default=None),
        }
    for name, c in (inf.get("cold_start") or {}).items():
        if c.get("onnx", {}).get("median_s"):
            colds.append(c["onnx"]["median_s"])
    if colds:
        worst = max(colds)
        a["targets"]["cold_start_onnx_s"] = {"value": worst, "met": worst <= TARGETS["cold_start_onnx_s"] * 1.2}
    scaling = results.get("scaling") or {}
    rows = []
    for key, p in (scaling.get("points") or {}).items():
        s = summarize([x for r in p["runs"] for x in rates(r)])
        flops = (p["info"].get("flops_per_step") or {}).get("needed")
        if not s["median"]:
            continue
        rows.append(
            {
                "key": key,
                "size": p["size"],
                "batch": p["batch"],
                "ms_per_step": 1e3 / s["median"],
                "spread_ms": (1e3 / s["max"], 1e3 / s["min"]),
                "images_per_s": s["median"] * p["batch"],
                "gflop_per_step": flops / 1e9 if flops else None,
                "util": s["median"] * flops / 1e9 / peak if flops and peak else None,
            }
        )
    a["scaling"] = rows
    return a
