# shellcheck shell=bash
# Starts and stops the services the tests need, on private sockets and
# throwaway data dirs. Sourced by scripts/test.
#
#   start_dockerd   installs Debian's docker.io when missing, starts dockerd
#                   on its own socket, exports DOCKER_HOST
#   ensure_redis    installs Debian's redis-server and redis-cli (tests start
#                   their own servers on free loopback ports; Sentinel runs
#                   as `redis-server --sentinel`, a Redis Cluster as three
#                   `redis-server --cluster-enabled yes` joined by
#                   `redis-cli --cluster create`), and the openssl command
#                   (the TLS tests make their certificates with it)
#   stop_services   stops what was started (also run on exit)

SERVICES_DIR=""
DOCKERD_PID=""

ensure_apt_package() { # PACKAGE BINARY
    if ! command -v "$2" >/dev/null 2>&1; then
        log "installing Debian package $1"
        if [ -z "${APT_UPDATED:-}" ]; then
            apt-get update -qq >/dev/null
            APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    fi
}

ensure_redis() {
    ensure_apt_package redis-server redis-server
    ensure_apt_package redis-tools redis-cli
    ensure_apt_package openssl openssl
}

start_dockerd() {
    ensure_apt_package docker.io dockerd
    SERVICES_DIR=${SERVICES_DIR:-$(mktemp -d /tmp/berth-services.XXXXXX)}
    local dir=$SERVICES_DIR/docker
    mkdir -p "$dir"
    log "starting dockerd (data root $dir)"
    # Networks come from a pool of its own (256 /24s): the default pools
    # hold only ~30 networks, and bridges an earlier dockerd left behind
    # (killed, or its data root deleted) still occupy their ranges.
    dockerd --data-root "$dir/data" --exec-root "$dir/exec" \
        --host "unix://$dir/docker.sock" --pidfile "$dir/docker.pid" \
        --default-address-pool base=10.213.0.0/16,size=24 \
        >"$dir/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    export DOCKER_HOST="unix://$dir/docker.sock"
    for _ in $(seq 1 100); do
        if docker version >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
            break
        fi
        sleep 0.2
    done
    tail -20 "$dir/dockerd.log" >&2
    log "dockerd did not start"
    return 1
}

stop_services() {
    if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        if docker ps -aq --filter label=berth.managed=true 2>/dev/null | grep -q .; then
            log "warning: containers left behind:"
            docker ps -a --filter label=berth.managed=true >&2 || true
        fi
        # Remove the test networks while dockerd can: their bridges would
        # outlive it and keep their address ranges taken.
        docker ps -aq | xargs -r docker rm -f >/dev/null 2>&1 || true
        docker network prune -f >/dev/null 2>&1 || true
        kill "$DOCKERD_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -9 "$DOCKERD_PID" 2>/dev/null || true
    fi
    if [ -n "$SERVICES_DIR" ]; then
        # Overlay mounts may linger briefly after dockerd exits.
        umount -R "$SERVICES_DIR"/docker/data/overlay2/*/merged 2>/dev/null || true
        rm -rf "$SERVICES_DIR" 2>/dev/null || true
    fi
}
