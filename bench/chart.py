"""docs/benchmarks.png: each endpoint's throughput as a share of SELECT 1's."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

from bench.report import BASELINE, RATIO_TARGETS, ratio, summarize

COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52")


def draw(results, path):
    """Draw the grouped bars (one per connection count) of every endpoint but the yardstick."""
    main = summarize(results["runs"], phase="main")
    scale = results["dataset"]["main_scale"]
    connections = results["options"]["connections"]
    endpoints = [key for key in results["endpoints"] if key != BASELINE]
    labels = [results["endpoints"][key] for key in endpoints]

    height = 0.8 / len(connections)
    figure, axes = plt.subplots(figsize=(10, 0.55 * len(endpoints) + 1.8), dpi=120)
    for index, count in enumerate(connections):
        values = [ratio(main, key, count, scale) or 0 for key in endpoints]
        positions = [row - 0.4 + height * (index + 0.5) for row in range(len(endpoints))]
        bars = axes.barh(
            positions, values, height, color=COLOURS[index % len(COLOURS)], label=f"{count} conn."
        )
        shown = [f"{value:.2f}" if value >= 0.01 else f"{value:.3f}" for value in values]
        axes.bar_label(bars, labels=shown, padding=3, fontsize=8)
    labelled = False
    for row, key in enumerate(endpoints):
        target = RATIO_TARGETS.get(key)
        if target is not None:
            label = None if labelled else "target"
            axes.plot([target] * 2, [row - 0.45, row + 0.45], color="black", lw=2, label=label)
            labelled = True
    axes.axvline(1.0, color="grey", linestyle="--", linewidth=1, label="SELECT 1 = 1.0")
    axes.set_yticks(range(len(endpoints)), labels, fontsize=9)
    axes.invert_yaxis()
    axes.set_xlabel("requests per second as a share of GET /bench/select1 (higher is better)")
    axes.set_title(f"eventbook throughput at {scale:,} bookings, relative to SELECT 1")
    axes.set_xlim(0, max(1.2, axes.get_xlim()[1] * 1.08))
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
