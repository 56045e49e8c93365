"""Time one Index.groups() of an index (default rule) in its own process: seconds, groups,
files in groups, peak RSS. Usage: python benchmarks/groups_once.py INDEX.db"""
import json, resource, sys, time
from imgfind import Index
t = time.perf_counter()
with Index.open(sys.argv[1], readonly=True) as idx:
    g = idx.groups()
s = time.perf_counter() - t
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"db": sys.argv[1], "groups_s": round(s, 1), "groups": len(g),
                  "files": sum(len(x.members) for x in g), "peak_rss_mb": round(rss)}))
