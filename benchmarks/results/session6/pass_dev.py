"""Cost of the same-pixels pass alone on the dev pool's index (cold: no decision cache)."""
import resource, sys, time
from imgfind.store import Store
from imgfind import same_pixels
s = Store(sys.argv[1], readonly=True)
p = s.load_prints()
t = time.perf_counter(); c0 = time.process_time()
with s.snapshot():
    out = same_pixels.library_pairs(s, p, None)
print(f"pairs {len(out)}: {time.perf_counter() - t:.1f} s wall, {time.process_time() - c0:.1f} s CPU")
