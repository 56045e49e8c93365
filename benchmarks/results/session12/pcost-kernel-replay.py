"""Old and new consensus kernels on recorded calls: same answers? CPU of each."""
import sys, pickle, time, importlib.util
import numpy as np
import shutil, os
def load(path, name):  # a copy under a real module name (numba's cache pickles the module's name)
    d = "/tmp/pcost/t/k"; os.makedirs(d, exist_ok=True)
    shutil.copy(path, f"{d}/{name}.py")
    sys.path.insert(0, d)
    return importlib.import_module(name)
old = load(sys.argv[1] + "/imgfind/_consensus_kernels.py", "oldk").reaches
new = load(sys.argv[2] + "/imgfind/_consensus_kernels.py", "newk").reaches
from imgfind.consensus import MARGIN, REL, MAX_MATCHES
calls = pickle.load(open(sys.argv[3], "rb"))
slacks = [float(x) for x in sys.argv[4:]] or [1.0]
todo = []
for pa, pb, need, radius in calls:
    n = len(pa)
    if n < need or need <= 4 or n > MAX_MATCHES:
        continue
    a = np.asarray(pa, np.float64); b = np.asarray(pb, np.float64)
    for s in slacks:
        todo.append((np.ascontiguousarray(a[:, 0]), np.ascontiguousarray(a[:, 1]),
                     np.ascontiguousarray(b[:, 0]), np.ascontiguousarray(b[:, 1]), int(need), float(radius) * s, MARGIN, REL))
old(*todo[0]); new(*todo[0])
for rnd in range(2):
    for name, k in (("old", old), ("new", new)):
        t = time.process_time()
        out = [k(*x) for x in todo]
        dt = time.process_time() - t
        if name == "old": ref = out
        print(f"{name}: {len(todo)} calls, {dt:.2f} CPU s, answers {np.bincount(np.asarray(out) + 1, minlength=3).tolist()} (-1/0/1), same as old: {out == ref}", flush=True)
