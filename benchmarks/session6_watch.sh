#!/usr/bin/env bash
# Watch a long-running process (session 6: the 10^6 dedupe child): every INTERVAL seconds,
# one line with UTC time, the 1-minute load, the process's CPU seconds so far (user + system,
# from /proc/PID/stat), VmRSS and VmHWM (peak) in MB; every DUMP-th line also the innermost
# imgfind frames of its main thread from `py-spy dump` (if PYSPY names a py-spy binary), so
# that a run stopped unfinished still says how far it got and what it had cost.
# Usage: PYSPY=/path/to/py-spy benchmarks/session6_watch.sh PID [INTERVAL=60] [DUMP=5]
set -u
PID=$1; IV=${2:-60}; DUMP=${3:-5}
TCK=$(getconf CLK_TCK); n=0
while kill -0 "$PID" 2>/dev/null; do
  read -r -a st < "/proc/$PID/stat" || break
  cpu=$(( (st[13] + st[14]) / TCK ))
  rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$PID/status")
  hwm=$(awk '/VmHWM/{print int($2/1024)}' "/proc/$PID/status")
  echo "$(date -u +%T) load1 $(cut -d' ' -f1 /proc/loadavg) cpu_s $cpu rss_mb $rss hwm_mb $hwm"
  if [ -n "${PYSPY:-}" ] && [ $((n % DUMP)) -eq 0 ]; then
    "$PYSPY" dump --pid "$PID" 2>/dev/null | grep -E "imgfind/" | head -6 | sed 's/^/    /'
  fi
  n=$((n + 1)); sleep "$IV"
done
echo "$(date -u +%T) process $PID gone"
