#!/bin/sh
# The stress suite's CI form: every scenario for a couple of seconds.
# A fixed seed keeps failures reproducible from the log.
exec "$1" --short --seed 1
