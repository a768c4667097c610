#!/bin/sh
# Why: counts kubectl processes in a benchmark: one line per run in $KUBECTL_COUNT, then the real kubectl runs.
echo run >>"$KUBECTL_COUNT"
exec "$REAL_KUBECTL" "$@"
