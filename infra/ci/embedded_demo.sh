#!/usr/bin/env bash
# The zero-setup path, as a new user takes it: `make run` on the embedded PostgreSQL and Redis
# (HEARTH_LOCAL_PROBE=0: nothing on localhost is used, even where it answers), wait for
# /health/ready, `make demo` against it, then Ctrl-C (SIGINT) and a clean exit. Any failure
# exits non-zero with the stack's output shown.
set -euo pipefail
cd "$(dirname "$0")/../.."

READY_TIMEOUT=${HEARTH_CI_READY_TIMEOUT:-90}
STOP_TIMEOUT=${HEARTH_CI_STOP_TIMEOUT:-30}
API_PORT=${HEARTH_API_PORT:-8000}
READY_URL="http://127.0.0.1:${API_PORT}/health/ready"

log=$(mktemp -t hearth-embedded-demo.XXXXXX)
pgid=""

fail() {
    echo "embedded demo: $1" >&2
    echo "----- make run output (last 150 lines of $log) -----" >&2
    tail -n 150 "$log" >&2 || true
    echo "----- end of make run output -----" >&2
    exit 1
}

running() {
    [ -n "$pgid" ] && kill -0 "$pgid" 2>/dev/null
}

cleanup() {
    # Whatever went wrong, leave no stack behind: SIGINT first (run.py stops its children and
    # the embedded servers in order), SIGKILL if it does not end in time.
    if running; then
        kill -INT -- "-$pgid" 2>/dev/null || true
        for _ in $(seq 1 "$((STOP_TIMEOUT * 2))"); do
            running || return 0
            sleep 0.5
        done
        kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
}
trap cleanup EXIT

if curl -s -o /dev/null "http://127.0.0.1:${API_PORT}/"; then
    fail "something already answers on port ${API_PORT}"
fi

# A process group of its own, so the SIGINT below reaches make and run.py as a terminal's
# Ctrl-C would, and nothing else of this script.
env -u DATABASE_URL -u REDIS_URL HEARTH_LOCAL_PROBE=0 HEARTH_ENV=development \
    setsid make run >"$log" 2>&1 &
pgid=$!

started=$SECONDS
until curl -sf -o /dev/null --max-time 2 "$READY_URL"; do
    running || fail "make run exited before ${READY_URL} answered"
    if [ "$((SECONDS - started))" -ge "$READY_TIMEOUT" ]; then
        fail "${READY_URL} did not answer 200 within ${READY_TIMEOUT} s"
    fi
    sleep 1
done
echo "embedded demo: ready after $((SECONDS - started)) s"

if ! HEARTH_API_URL="http://127.0.0.1:${API_PORT}" make demo; then
    fail "make demo failed against the embedded stack"
fi

# SIGINT to run.py itself: it stops the API, the worker and the embedded servers in order and
# exits 0, and so does make. (Signalled too, make would exit 130 whatever run.py did.)
run_pid=$(pgrep -P "$pgid" -f infra.local.run || true)
[ -n "$run_pid" ] || fail "no infra.local.run process under make run (pid $pgid)"
kill -INT "$run_pid"
stop_started=$SECONDS
while running; do
    if [ "$((SECONDS - stop_started))" -ge "$STOP_TIMEOUT" ]; then
        fail "make run did not exit within ${STOP_TIMEOUT} s of SIGINT"
    fi
    sleep 0.5
done
status=0
wait "$pgid" || status=$?
pgid=""
if [ "$status" -ne 0 ]; then
    fail "make run exited with status ${status} after SIGINT"
fi
echo "embedded demo: make run stopped cleanly after $((SECONDS - stop_started)) s"
