# Sourced by the step scripts: the project's paths, the kubectl to use, and kustomate in the background.
# Set KUBECTL to use another kubectl binary (the local cluster's is .cache/bin/kubectl).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/lab"
KUBECTL="${KUBECTL:-kubectl}"
# Node 24 and the kustomate command come with `npm ci` in node_modules/.bin.
export PATH="$ROOT/node_modules/.bin:$PATH"
export KUSTOMATE_KUBECTL="$KUBECTL"

kustomate() { node "$ROOT/src/cli/main.ts" "$@"; }

# start_operator NAME ARGS...: `kustomate run ARGS` in the background, logging to $TMPDIR/kustomate-lab-NAME.log,
# stopped when the script exits.
start_operator() {
  local log="${TMPDIR:-/tmp}/kustomate-lab-$1.log"
  shift
  # node itself in the background (not the kustomate function, whose subshell would hide node's pid).
  node "$ROOT/src/cli/main.ts" run --health-port 0 "$@" >"$log" 2>&1 &
  OPERATOR=$!
  trap 'kill $OPERATOR 2>/dev/null || true' EXIT
}
