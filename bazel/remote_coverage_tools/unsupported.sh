#!/bin/sh
# Offline stand-in for the coverage tools: bazel coverage is not supported in this project.
echo "remote_coverage_tools is an offline stand-in: bazel coverage is not supported" >&2
exit 1
