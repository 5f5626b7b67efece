#!/usr/bin/env bash
# Run the end-to-end tests of e2e/ against the local telemetry stack.
#
# If the stack is already running (make stack), the tests use it and leave it
# running; otherwise this script starts it and stops it again on exit, also
# when the tests fail or the script is interrupted.
#
# Environment: OTELCOL_BIN, JAEGER_BIN and STACK_DIR as for e2e/stack.sh;
# GO (default go); E2E_RUN, a -run pattern (default: all tests).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
export STACK_DIR=${STACK_DIR:-$ROOT/.stack}
GO=${GO:-go}

if "$HERE/stack.sh" status >/dev/null 2>&1; then
	echo "e2e: using the stack that is already running (it stays up)"
else
	trap '"$HERE/stack.sh" down' EXIT
	trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C too
	"$HERE/stack.sh" up
fi

set -a
# shellcheck disable=SC1091
source "$STACK_DIR/stack.env"
set +a

cd "$HERE"
export GOWORK=off
"$GO" vet -tags e2e ./...
"$GO" test -tags e2e -count=1 -v -run "${E2E_RUN:-.}" ./...
