#!/bin/bash
# usage: run.sh CASE CODE(main|final)
case=$1; code=$2
src=/tmp/fam-compact/$case-2000-snap.db
dst=/tmp/compact/famfinal/$case-$code.db
rm -f $dst*
cp $src $dst; [ -f $src-wal ] && cp $src-wal $dst-wal
/work/venv-compact/bin/python -c "
import sqlite3; c=sqlite3.connect('$dst'); c.execute('DELETE FROM decisions'); c.execute('DELETE FROM decisions_found'); c.commit(); c.execute('PRAGMA wal_checkpoint(TRUNCATE)')"
if [ $code = main ]; then PP=/tmp/snap-main-compact/snap; else PP=/tmp/snap-compact/snap; fi
l0=$(cut -d' ' -f1-3 /proc/loadavg)
PYTHONPATH=$PP nice -n 5 /usr/bin/time -f "$case $code cpu=%U+%S rss=%MkB wall=%e" /work/venv-compact/bin/python -m imgfind --db $dst dedupe --format json > /tmp/compact/famfinal/$case-$code.json 2> /tmp/compact/famfinal/$case-$code.err
echo "$(tail -1 /tmp/compact/famfinal/$case-$code.err) load $l0 -> $(cut -d' ' -f1-3 /proc/loadavg)"
