#!/bin/bash
# usage: fam-run.sh DB SNAP TAG [extra python args before -m, e.g. "-m cProfile -o X"]
# One cold 'imgfind dedupe --format json' of the index DB with the code of SNAP (remembered
# decisions deleted first), CPU and peak RSS from /usr/bin/time; JSON to /tmp/fam9/out/TAG.json.
db=$1; snap=$2; tag=$3; shift 3
mkdir -p /tmp/fam9/out
/work/venv-fam9/bin/python -c "
import sqlite3; c=sqlite3.connect('$db'); c.execute('DELETE FROM decisions'); c.execute('DELETE FROM decisions_found'); c.commit(); c.execute('PRAGMA wal_checkpoint(TRUNCATE)')"
l0=$(cut -d' ' -f1-3 /proc/loadavg)
PYTHONPATH=$snap /usr/bin/time -f "$tag cpu=%U+%S rss=%MkB wall=%e" /work/venv-fam9/bin/python "$@" -m imgfind --db $db dedupe --format json > /tmp/fam9/out/$tag.json 2> /tmp/fam9/out/$tag.err
echo "$(tail -1 /tmp/fam9/out/$tag.err) load $l0 -> $(cut -d' ' -f1-3 /proc/loadavg) code $(basename $snap)"
