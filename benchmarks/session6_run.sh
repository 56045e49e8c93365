#!/bin/sh
# Run one long measurement the way session 6 recorded them (issues 15, 16):
#   benchmarks/session6_run.sh NAME COMMAND ARGS...
# runs COMMAND under `nice -n 5` and `/usr/bin/time -v` and appends to
# benchmarks/results/session6/NAME.log: UTC start/end, the 1-minute load average at start
# and end, the command, its output, and time -v's report (user + system CPU seconds of the
# whole process tree that was waited for, wall, peak RSS of the largest process).
# OUT=DIR puts the log elsewhere.
set -u
name=$1; shift
out=${OUT:-$(dirname "$0")/results/session6}
mkdir -p "$out"
log=$out/$name.log
{
  echo "== $name"
  echo "start $(date -u +%FT%TZ) load1 $(cut -d' ' -f1 /proc/loadavg)"
  echo "cmd $*"
} >>"$log"
nice -n 5 /usr/bin/time -v "$@" >>"$log" 2>&1
rc=$?
echo "end $(date -u +%FT%TZ) load1 $(cut -d' ' -f1 /proc/loadavg) rc $rc" >>"$log"
exit $rc
