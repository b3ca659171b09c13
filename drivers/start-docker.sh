#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine, starting one if we can.
#
# Already answering -> nothing to do.  Root -> install Debian's docker.io when dockerd is
# missing, start dockerd in the background (log: $NOMADLAB_DOCKERD_LOG), wait until it
# answers.  Not root and no engine -> say why and exit 1.  Safe to run again.
set -euo pipefail

LOG="${NOMADLAB_DOCKERD_LOG:-/tmp/nomadlab-dockerd.log}"
WAIT_SECONDS="${NOMADLAB_DOCKERD_WAIT:-60}"
# Extra dockerd flags, e.g. a second engine beside a running one (-H, --data-root, --pidfile).
read -r -a DOCKERD_ARGS <<<"${NOMADLAB_DOCKERD_ARGS:-}"

say() { echo "start-docker: $*"; }

engine_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

server_version() { docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown; }

if engine_answers; then
    say "Docker engine already answering (server $(server_version)); nothing to do"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "no Docker engine answers and this is not root, so one cannot be started here." >&2
    say "start one yourself (e.g. 'sudo dockerd &' or 'sudo systemctl start docker') or set DOCKER_HOST." >&2
    exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    say "installing Debian's docker.io (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q docker.io
fi

rm -f "$LOG.pid"
if [ ${#DOCKERD_ARGS[@]} -eq 0 ] && pgrep -x dockerd >/dev/null 2>&1; then
    say "dockerd is already running but not answering yet; waiting for it"
else
    say "starting dockerd (log: $LOG)"
    setsid nohup dockerd "${DOCKERD_ARGS[@]}" >"$LOG" 2>&1 </dev/null &
    echo $! >"$LOG.pid"
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if [ -f "$LOG.pid" ] && ! kill -0 "$(cat "$LOG.pid")" 2>/dev/null && [ "$i" -gt 2 ]; then
        say "dockerd exited; last lines of $LOG:" >&2
        tail -n 30 "$LOG" >&2 || true
        exit 1
    fi
    if docker info >/dev/null 2>&1; then
        say "Docker engine answering after ${i}s (server $(server_version))"
        exit 0
    fi
    sleep 1
done

say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:" >&2
tail -n 30 "$LOG" >&2 || true
exit 1
