"""Write docs/benchmarks.md and its chart from the raw results:
`python -m bench.publish [results.json]`."""

import json
import sys
from pathlib import Path

from bench.chart import draw
from bench.report import CHART, DEFAULT_ANALYSIS, DOC, RESULTS, preserved_analysis, render


def write(results, doc=DOC, chart=CHART):
    """Write the document and its chart; return their paths."""
    analysis = preserved_analysis(doc.read_text()) if doc.exists() else DEFAULT_ANALYSIS
    draw(results, chart)
    doc.write_text(render(results, analysis))
    return [doc, chart]


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    for path in write(json.loads(source.read_text())):
        print(f"wrote {path}")
