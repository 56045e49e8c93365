"""Split a warm dedupe into its steps, in one process: imports, open, Index.groups(), JSON
rendering (perf_counter each). Usage: python benchmarks/warm_phases.py INDEX.db"""
import sys, time, io
t0 = time.perf_counter()
import imgfind.cli
from imgfind import Index
from imgfind.report import render_groups
from imgfind.index import default_rule
t1 = time.perf_counter()
idx = Index.open(sys.argv[1], readonly=True)
t2 = time.perf_counter()
groups = idx.groups(default_rule())
t3 = time.perf_counter()
buf = io.StringIO()
render_groups(groups, "json", buf, default_rule())
t4 = time.perf_counter()
print(f"import {t1-t0:.2f} open {t2-t1:.2f} groups {t3-t2:.2f} render {t4-t3:.2f} bytes {len(buf.getvalue())}")
