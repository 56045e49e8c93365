#!/bin/bash
# cold then alternating warm dedupes of the dev pool: branch (dev.db) vs base 930299c (devbase.db)
cd /tmp/s6l
for who in branch base; do
  if [ $who = branch ]; then B=/work/venv-lossless/bin/imgfind; D=dev.db; else B=/tmp/s6l/imgfind-base; D=devbase.db; fi
  /usr/bin/time -f "$who cold %e s wall %U s user" nice -n 5 $B --db $D dedupe --format json > cold-$who.json
done
for i in 1 2 3 4; do
  for who in branch base; do
    if [ $who = branch ]; then B=/work/venv-lossless/bin/imgfind; D=dev.db; else B=/tmp/s6l/imgfind-base; D=devbase.db; fi
    /usr/bin/time -f "$who warm$i %e s wall %U s user" nice -n 5 $B --db $D dedupe --format json > warm-$who-$i.json
    uptime
  done
done
