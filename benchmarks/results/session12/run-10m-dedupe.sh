#!/bin/bash
# Session 12: dedupe of the 10^7-file synthetic index (session 8's build, recipe label 10) with main e142d20.
cd /work/m8
date -u +"start %FT%TZ" > dedupe-10m-s12.log
uptime >> dedupe-10m-s12.log
PYTHONPATH=/tmp/snap12 /usr/bin/time -v /work/venv-trust/bin/python /tmp/snap12/benchmarks/stage_dedupe.py \
    /work/m8/idx/index-10000000-0.2-0-10.db /work/m8/dedupe-10m-s12.json 2>>dedupe-10m-s12.log
echo "rc=$?" >> dedupe-10m-s12.log
date -u +"end %FT%TZ" >> dedupe-10m-s12.log
uptime >> dedupe-10m-s12.log
