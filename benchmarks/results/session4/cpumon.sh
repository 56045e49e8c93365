#!/usr/bin/env bash
# Samples CPU seconds (utime+stime, all threads) of the Index.groups() children of bench_query.py every 2 s.
TCK=$(getconf CLK_TCK)
while true; do
  for p in $(pgrep -f 'inproc_groups|idx.groups\(\)'); do
    if [ -r /proc/$p/stat ]; then
      read -r -a s < <(sed 's/^.*) //' /proc/$p/stat)
      # after stripping "pid (comm) ", fields: state=0 ... utime=11 stime=12
      echo "$(date -u +%T) $p $(( (${s[11]} + ${s[12]}) / TCK )) $(tr '\0' ' ' < /proc/$p/cmdline | grep -o 'run-[a-z]*')"
    fi
  done
  sleep 2
done
