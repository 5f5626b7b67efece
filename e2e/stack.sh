#!/usr/bin/env bash
# Start, stop and inspect the local telemetry stack: Jaeger v2 and the
# OpenTelemetry Collector built from tools/, both on 127.0.0.1.
#
#   e2e/stack.sh up      start both in the background, wait until healthy
#   e2e/stack.sh down    stop exactly the processes `up` started (idempotent)
#   e2e/stack.sh status  exit 0 if both are running, 1 otherwise
#
# Normally run through `make stack` / `make stack-down`, which build the
# binaries and pass them in:
#   OTELCOL_BIN, JAEGER_BIN   the binaries (required by `up`)
#   STACK_DIR                 run directory: logs, PID files, stack.env, and by
#                             default the two JSON-lines files
#                             (default: <repo>/.stack, which ignores itself in git)
#   TS_AUDIT_FILE             audit records       (default $STACK_DIR/audit.jsonl)
#   TS_OTHER_LOGS_FILE        other log records   (default $STACK_DIR/otel-logs.jsonl)
#   OTELCOL_CONFIG            default <repo>/otelcol-config.yaml
#   JAEGER_CONFIG             default <repo>/tools/jaeger/jaeger.yaml
#   STACK_WAIT_SECONDS        health wait per process (default 30)
#
# A PID file holds "<pid> <start time> <binary>": `down` signals a process
# only if /proc still shows that PID with that start time running that
# binary, so a stale PID file never kills an unrelated process.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${STACK_DIR:-$ROOT/.stack}
[[ $STACK_DIR == /* ]] || STACK_DIR=$PWD/$STACK_DIR
OTELCOL_CONFIG=${OTELCOL_CONFIG:-$ROOT/otelcol-config.yaml}
JAEGER_CONFIG=${JAEGER_CONFIG:-$ROOT/tools/jaeger/jaeger.yaml}
STACK_WAIT_SECONDS=${STACK_WAIT_SECONDS:-30}

COLLECTOR_HEALTH=http://127.0.0.1:13133/
JAEGER_HEALTH=http://127.0.0.1:13134/status
JAEGER_QUERY=http://127.0.0.1:16686
COLLECTOR_PORTS=(4317 4318 13133)
JAEGER_PORTS=(14317 14318 16685 16686 13134)

say() { printf 'stack: %s\n' "$*"; }
die() {
	printf 'stack: ERROR: %s\n' "$*" >&2
	exit 1
}

# abspath PATH: PATH made absolute against the caller's directory.
abspath() {
	case $1 in
	/*) printf '%s\n' "$1" ;;
	*) printf '%s\n' "$PWD/$1" ;;
	esac
}

# start_time PID: the process start time (clock ticks since boot, field 22 of
# /proc/PID/stat), which tells a process from a later one with the same PID.
start_time() {
	local stat rest fields
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) } # the command name may contain spaces and parentheses
	read -r -a fields <<<"$rest"
	printf '%s\n' "${fields[19]}"
}

# alive PID: the process exists and is not a zombie (a child of ours that
# exited but has not been reaped yet still has a /proc entry).
alive() {
	local stat rest
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	rest=${stat##*) }
	[[ ${rest:0:1} != Z ]]
}

# exe_of PID: the binary the process runs ("(deleted)" dropped: a rebuilt
# binary replaces the file, the running process is still ours).
exe_of() {
	local exe
	exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
	printf '%s\n' "${exe% (deleted)}"
}

# ours NAME: whether NAME's PID file names a live process that is still the
# one we started. Sets PID.
ours() {
	local file=$STACK_DIR/$1.pid want_start want_exe
	PID=
	[[ -f $file ]] || return 1
	read -r PID want_start want_exe <"$file" || true
	[[ $PID =~ ^[0-9]+$ ]] || return 1
	[[ $(start_time "$PID" 2>/dev/null) == "$want_start" ]] || return 1
	[[ $(exe_of "$PID" 2>/dev/null) == "$want_exe" ]] || return 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ports_free PORT...: die naming the first port something else listens on.
ports_free() {
	local p
	for p in "$@"; do
		port_busy "$p" && die "127.0.0.1:$p is in use by a process this stack did not start (another checkout's stack? see: ss -ltnp 'sport = :$p')"
	done
	return 0
}

healthy() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# launch NAME BIN LOG ARGS...: start BIN in its own session (so that Ctrl-C
# in the terminal that ran `make stack` does not reach it), record its PID.
launch() {
	local name=$1 bin=$2 log=$3 pid st
	shift 3
	if command -v setsid >/dev/null 2>&1; then
		(cd "$STACK_DIR" && exec setsid "$bin" "$@") </dev/null >>"$log" 2>&1 &
	else
		(cd "$STACK_DIR" && exec nohup "$bin" "$@") </dev/null >>"$log" 2>&1 &
	fi
	pid=$!
	st=$(start_time "$pid") || die "$name exited at once; see $log"
	printf '%s %s %s\n' "$pid" "$st" "$bin" >"$STACK_DIR/$name.pid"
}

# wait_healthy NAME URL LOG
wait_healthy() {
	local name=$1 url=$2 log=$3 deadline=$((SECONDS + STACK_WAIT_SECONDS))
	until healthy "$url"; do
		if ! ours "$name"; then
			# The exe check can fail for a moment between fork and exec.
			if [[ -n ${PID:-} ]] && alive "$PID"; then sleep 0.1; continue; fi
			echo "--- last lines of $log:" >&2
			tail -n 30 "$log" >&2 || true
			die "$name exited before it became healthy"
		fi
		if ((SECONDS >= deadline)); then
			echo "--- last lines of $log:" >&2
			tail -n 30 "$log" >&2 || true
			die "$name not healthy at $url after ${STACK_WAIT_SECONDS}s"
		fi
		sleep 0.1
	done
}

# stop NAME: stop the process of NAME's PID file if it is still ours.
stop() {
	local name=$1 file=$STACK_DIR/$1.pid i
	if [[ ! -f $file ]]; then
		say "$name: not running"
		return 0
	fi
	if ! ours "$name"; then
		say "$name: stale PID file (pid ${PID:-?} is gone or runs something else): removed, nothing signalled"
		rm -f "$file"
		return 0
	fi
	kill -TERM "$PID" 2>/dev/null || true
	for ((i = 0; i < 150; i++)); do # up to 15 s for a clean shutdown
		ours "$name" || break
		sleep 0.1
	done
	if ours "$name"; then
		say "$name (pid $PID) ignored SIGTERM for 15s: SIGKILL"
		kill -KILL "$PID" 2>/dev/null || true
		sleep 0.2
	fi
	rm -f "$file"
	say "$name (pid $PID) stopped"
}

cmd_up() {
	command -v curl >/dev/null 2>&1 || die "curl is needed for the health checks"
	[[ -n ${OTELCOL_BIN:-} && -x $OTELCOL_BIN ]] || die "OTELCOL_BIN must name the Collector binary (use: make stack)"
	[[ -n ${JAEGER_BIN:-} && -x $JAEGER_BIN ]] || die "JAEGER_BIN must name the Jaeger binary (use: make stack)"
	OTELCOL_BIN=$(readlink -f "$OTELCOL_BIN")
	JAEGER_BIN=$(readlink -f "$JAEGER_BIN")
	local audit other
	audit=$(abspath "${TS_AUDIT_FILE:-$STACK_DIR/audit.jsonl}")
	other=$(abspath "${TS_OTHER_LOGS_FILE:-$STACK_DIR/otel-logs.jsonl}")
	OTELCOL_CONFIG=$(abspath "$OTELCOL_CONFIG")
	JAEGER_CONFIG=$(abspath "$JAEGER_CONFIG")

	mkdir -p "$STACK_DIR"
	[[ -f $STACK_DIR/.gitignore ]] || echo '*' >"$STACK_DIR/.gitignore"

	local started=()
	# On failure, stop what this invocation started, and only that.
	trap 'for n in "${started[@]}"; do stop "$n"; done' EXIT

	if ours jaeger; then
		say "jaeger already running (pid $PID)"
	else
		rm -f "$STACK_DIR/jaeger.pid"
		ports_free "${JAEGER_PORTS[@]}"
		"$JAEGER_BIN" validate --config="$JAEGER_CONFIG" >/dev/null 2>"$STACK_DIR/jaeger.validate.log" ||
			die "jaeger rejects $JAEGER_CONFIG: $(cat "$STACK_DIR/jaeger.validate.log")"
		launch jaeger "$JAEGER_BIN" "$STACK_DIR/jaeger.log" --config="$JAEGER_CONFIG"
		started+=(jaeger)
		wait_healthy jaeger "$JAEGER_HEALTH" "$STACK_DIR/jaeger.log"
	fi

	if ours otelcol; then
		say "otelcol already running (pid $PID); its environment is in $STACK_DIR/stack.env"
	else
		rm -f "$STACK_DIR/otelcol.pid"
		ports_free "${COLLECTOR_PORTS[@]}"
		mkdir -p "$(dirname "$audit")" "$(dirname "$other")"
		export TS_AUDIT_FILE=$audit TS_OTHER_LOGS_FILE=$other
		"$OTELCOL_BIN" validate --config="$OTELCOL_CONFIG" >/dev/null 2>"$STACK_DIR/otelcol.validate.log" ||
			die "the Collector rejects $OTELCOL_CONFIG: $(cat "$STACK_DIR/otelcol.validate.log")"
		launch otelcol "$OTELCOL_BIN" "$STACK_DIR/otelcol.log" --config="$OTELCOL_CONFIG"
		started+=(otelcol)
		wait_healthy otelcol "$COLLECTOR_HEALTH" "$STACK_DIR/otelcol.log"
		cat >"$STACK_DIR/stack.env" <<EOF
TS_AUDIT_FILE=$audit
TS_OTHER_LOGS_FILE=$other
TS_JAEGER_QUERY_URL=$JAEGER_QUERY
TS_COLLECTOR_HEALTH_URL=$COLLECTOR_HEALTH
TS_OTLP_GRPC_ENDPOINT=127.0.0.1:4317
TS_OTLP_HTTP_ENDPOINT=http://127.0.0.1:4318
EOF
	fi
	started=()
	trap - EXIT

	local down="make stack-down"
	[[ $STACK_DIR == "$ROOT/.stack" ]] || down="make stack-down STACK_DIR='$STACK_DIR'"
	# shellcheck disable=SC1091
	source "$STACK_DIR/stack.env"
	cat <<EOF

Telemetry stack is up (127.0.0.1 only):
  send OTLP to       gRPC 127.0.0.1:4317, HTTP http://127.0.0.1:4318
                     (e.g. OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318)
  Jaeger query API   $TS_JAEGER_QUERY_URL/api/services
                     $TS_JAEGER_QUERY_URL/api/traces?service=<service>&limit=20
                     $TS_JAEGER_QUERY_URL/api/v3/traces/<trace id>
                     (no UI: a Jaeger built from the module proxy serves a placeholder page)
  audit records      $TS_AUDIT_FILE
  other log records  $TS_OTHER_LOGS_FILE
  process logs, PIDs $STACK_DIR
  stop with          $down
EOF
}

cmd_down() {
	# The Collector first: it flushes its trace batches to Jaeger on the way out.
	stop otelcol
	stop jaeger
}

cmd_status() {
	local rc=0 n
	for n in jaeger otelcol; do
		if ours "$n"; then
			say "$n: running (pid $PID)"
		else
			say "$n: not running"
			rc=1
		fi
	done
	return $rc
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
*) die "usage: $0 up|down|status" ;;
esac
