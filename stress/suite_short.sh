#!/bin/sh
# The stress suite's CI form: every scenario for a couple of seconds.
# A fixed seed keeps failures reproducible from the log.  The finalizers
# scenario is left out until the collector bug it finds is fixed
# (docs/stress.md, "Open bugs").
exec "$1" --short --seed 1 --skip finalizers
