#!/bin/bash
# usage: idxcpu.sh SNAPDIR LABEL POOL : one `imgfind index -j 1 POOL` in a fresh db, children CPU and load
SNAP=$1; L=$2; POOL=$3
DB=/tmp/s5l/idx-$L-$POOL.db; rm -f $DB $DB-*
PYTHONPATH=$SNAP nice -n 5 /work/venv-s5lossless/bin/python - "$DB" "$L" "$POOL" <<'PY'
import resource, subprocess, sys, time, os
db, label, pool = sys.argv[1:4]
load0 = os.getloadavg(); t = time.time()
r = subprocess.run([sys.executable, '-m', 'imgfind', '--db', db, 'index', '-j', '1',
                    os.path.expanduser(f'~/.cache/imgfind-bench/datasets/{pool}')], capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{label} {pool}: cpu {u.ru_utime + u.ru_stime:.1f} s (user {u.ru_utime:.1f}, sys {u.ru_stime:.1f}), wall {time.time() - t:.1f} s, "
      f"load before {load0[0]:.1f} after {os.getloadavg()[0]:.1f}; {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}")
PY
