#!/bin/bash
cd /tmp/thumbs-work
Q=$(ls ~/.cache/imgfind-bench/datasets/dev/originals/*.jpg | head -1)
for n in 1000000 100000; do
for i in 1 2 3 4 5 6 7; do
  /usr/bin/time -f "help $n %e %U %S %M $(cut -d' ' -f1 /proc/loadavg)" /work/venv-thumbs/bin/python -m imgfind --help > /dev/null
  /usr/bin/time -f "tip $n %e %U %S %M $(cut -d' ' -f1 /proc/loadavg)" /work/venv-thumbs/bin/python -m imgfind --db cache/index-$n-0.2-0-10.db query $Q > out-tip-$n.txt
  /usr/bin/time -f "base $n %e %U %S %M $(cut -d' ' -f1 /proc/loadavg)" /tmp/thumbs-work/venv-base/bin/python -m imgfind --db cache/index-$n-0.2-0-10.db query $Q > out-base-$n.txt
done
done
