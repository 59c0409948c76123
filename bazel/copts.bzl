"""Compiler and linker flags shared by every ouro target.

Load with: load("//bazel:copts.bzl", "OURO_COPTS", "OURO_LINKOPTS")
"""

# Strict ISO C11; _GNU_SOURCE exposes the POSIX/GNU parts of libc we use
# (pthreads, clock_gettime, ...) without switching to the gnu11 dialect.
OURO_COPTS = [
    "-std=c11",
    "-D_GNU_SOURCE",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wno-unused-parameter",
    "-pthread",
]

OURO_LINKOPTS = ["-pthread"]
