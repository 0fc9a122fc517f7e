# shellcheck shell=bash
# Make sure Postgres and Redis are reachable, installing and starting them if needed.
#
# SOURCE this file from bash (scripts/dev and scripts/test do):
#     . "$(dirname "$0")/services.sh"
# Afterwards these are exported and point at working servers:
#     DATABASE_ADMIN_URL  superuser, no password, maintenance database "postgres"
#     DATABASE_URL        same server, database "dojoql" (created if missing)
#     REDIS_URL
#
# Order of preference:
#   Postgres: $DATABASE_ADMIN_URL (if exported and answering), then
#             $DOJOQL_PG_DEFAULT_URL (default postgres://postgres@127.0.0.1:5432/postgres), then
#             our own cluster in $DOJOQL_STATE_DIR/pg on 127.0.0.1:55432 (trust auth),
#             installing the `postgresql` package with apt first if needed.
#   Redis:    $REDIS_URL (if exported and answering PONG), then
#             $DOJOQL_REDIS_DEFAULT_URL (default redis://127.0.0.1:6379), then
#             our own redis-server on 127.0.0.1:56379 (no persistence),
#             installing the `redis-server` package with apt first if needed.
# Nothing here needs systemd, and running it again reuses what is already running.
# Safe under `set -euo pipefail`. On failure it prints why and returns non-zero
# (which stops a calling script that uses `set -e`).
#
# Knobs (all optional):
#   DOJOQL_STATE_DIR          where our own servers live (default /var/tmp/dojoql)
#   DOJOQL_PG_DEFAULT_URL     first Postgres to try when DATABASE_ADMIN_URL is not given
#   DOJOQL_REDIS_DEFAULT_URL  first Redis to try when REDIS_URL is not given
#   DOJOQL_PG_PORT            first port to try for our own Postgres (default 55432)
#   DOJOQL_REDIS_PORT         first port to try for our own Redis (default 56379)
#   DOJOQL_DATABASE_NAME      application database name (default dojoql)

dojoql_log() { printf '[services] %s\n' "$*" >&2; }

# Run a command as root (directly, or through sudo when we are not root).
dojoql_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        dojoql_log "need root to run: $* (and sudo is not available)"
        return 1
    fi
}

# apt-get install, running `apt-get update` once (per shell) before the first install.
dojoql_apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        dojoql_log "apt-get not found: please install $* yourself"
        return 1
    fi
    if [ -z "${DOJOQL_APT_UPDATED:-}" ]; then
        dojoql_log "apt-get update"
        dojoql_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        DOJOQL_APT_UPDATED=1
    fi
    dojoql_log "installing $* (apt-get install)"
    dojoql_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >&2 || return 1
}

# Is something listening on 127.0.0.1:PORT (or all interfaces)?
dojoql_port_in_use() {
    local port="$1"
    if command -v ss >/dev/null 2>&1; then
        [ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]
    else
        timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" >/dev/null 2>&1
    fi
}

# First free port starting at $1.
dojoql_free_port() {
    local port="$1" last=$(($1 + 100))
    while [ "$port" -lt "$last" ]; do
        if ! dojoql_port_in_use "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
        dojoql_log "port $port is taken by something else, trying $((port + 1))"
        port=$((port + 1))
    done
    dojoql_log "no free port in $1..$last"
    return 1
}

# Print "user@host:port/db" of a URL without any password.
dojoql_redact() {
    printf '%s\n' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'
}

# ---------------------------------------------------------------- Postgres --

dojoql_pg_ok() {
    # -w: never prompt for a password (a server that wants one is not usable here).
    [ -n "$1" ] && [ "$(PGCONNECT_TIMEOUT=3 psql -w "$1" -XAtqc 'select 1' 2>/dev/null)" = 1 ]
}

# Highest /usr/lib/postgresql/<version>/bin that contains initdb.
dojoql_pg_bindir() {
    local d best="" best_v=0 v
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        v="${d#/usr/lib/postgresql/}"
        v="${v%%/*}"
        v="${v%%.*}"
        case "$v" in '' | *[!0-9]*) continue ;; esac
        if [ "$v" -gt "$best_v" ]; then
            best_v="$v"
            best="$d"
        fi
    done
    [ -n "$best" ] && printf '%s\n' "$best"
}

# Run a Postgres server binary as the owner of our cluster (initdb refuses root).
dojoql_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Make sure the Postgres server binaries (and the postgres user) exist.
dojoql_pg_install() {
    if [ -z "$(dojoql_pg_bindir || true)" ]; then
        dojoql_apt_install postgresql || return 1
        if [ -z "$(dojoql_pg_bindir || true)" ]; then
            dojoql_log "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found"
            return 1
        fi
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        dojoql_log "creating system user postgres"
        useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres || return 1
    fi
}

# Start (or find) our own cluster; prints its admin URL on stdout.
dojoql_pg_own() {
    local state="$1" bindir pgdir port
    bindir="$(dojoql_pg_bindir)" || return 1
    pgdir="$state/pg"
    if [ ! -d "$state" ]; then
        mkdir -p "$state" || return 1
        chmod 755 "$state" || return 1
    fi
    if [ ! -s "$pgdir/PG_VERSION" ]; then
        if [ -e "$pgdir" ]; then
            dojoql_log "removing incomplete cluster directory $pgdir"
            rm -rf "$pgdir" || return 1
        fi
        dojoql_log "creating our own Postgres cluster in $pgdir ($bindir)"
        mkdir -p "$pgdir" || return 1
        if [ "$(id -u)" -eq 0 ]; then
            chown postgres:postgres "$pgdir" || return 1
        fi
        chmod 700 "$pgdir" || return 1
        if ! dojoql_as_pg test -w "$pgdir"; then
            dojoql_log "user postgres cannot write $pgdir (is a parent directory private?); set DOJOQL_STATE_DIR elsewhere"
            return 1
        fi
        if ! dojoql_as_pg "$bindir/initdb" -D "$pgdir" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1; then
            cat "$state/initdb.log" >&2
            dojoql_log "initdb failed (log above, also in $state/initdb.log)"
            return 1
        fi
    fi

    if dojoql_as_pg "$bindir/pg_ctl" -D "$pgdir" status >/dev/null 2>&1; then
        port="$(sed -n 4p "$pgdir/postmaster.pid" 2>/dev/null || true)"
        dojoql_log "our own Postgres is already running ($pgdir, port $port)"
    else
        port="$(dojoql_free_port "${DOJOQL_PG_PORT:-55432}")" || return 1
        dojoql_log "starting our own Postgres on 127.0.0.1:$port (log: $pgdir/log)"
        if ! dojoql_as_pg "$bindir/pg_ctl" -D "$pgdir" -l "$pgdir/log" -t 60 \
            -o "-p $port -k '$pgdir' -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
            -w start >/dev/null; then
            tail -n 20 "$pgdir/log" >&2 2>/dev/null || true
            dojoql_log "Postgres failed to start (log above, also in $pgdir/log)"
            return 1
        fi
    fi
    printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
}

dojoql_setup_postgres() {
    local state="$1" url default
    default="${DOJOQL_PG_DEFAULT_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

    if ! command -v psql >/dev/null 2>&1; then
        if dojoql_pg_bindir >/dev/null && [ -x "$(dojoql_pg_bindir)/psql" ]; then
            PATH="$(dojoql_pg_bindir):$PATH"
        else
            dojoql_apt_install postgresql-client || return 1
        fi
    fi

    url=""
    if [ -n "${DATABASE_ADMIN_URL:-}" ]; then
        if dojoql_pg_ok "$DATABASE_ADMIN_URL"; then
            url="$DATABASE_ADMIN_URL"
            dojoql_log "Postgres: using DATABASE_ADMIN_URL ($(dojoql_redact "$url"))"
        else
            dojoql_log "Postgres: DATABASE_ADMIN_URL ($(dojoql_redact "$DATABASE_ADMIN_URL")) does not answer, looking elsewhere"
        fi
    fi
    if [ -z "$url" ]; then
        if dojoql_pg_ok "$default"; then
            url="$default"
            dojoql_log "Postgres: found $(dojoql_redact "$url")"
        else
            dojoql_log "Postgres: nothing usable at $(dojoql_redact "$default") (down, or wants a password)"
            dojoql_pg_install || return 1
            url="$(dojoql_pg_own "$state")" || return 1
            if ! dojoql_pg_ok "$url"; then
                dojoql_log "Postgres: our own cluster does not answer at $url"
                return 1
            fi
            dojoql_log "Postgres: using our own cluster ($url)"
        fi
    fi
    DATABASE_ADMIN_URL="$url"
    export DATABASE_ADMIN_URL
}

# DATABASE_URL = admin URL with the database name replaced.
dojoql_setup_database() {
    local admin="$DATABASE_ADMIN_URL" name="${DOJOQL_DATABASE_NAME:-dojoql}"
    local base query scheme rest authority exists
    base="${admin%%\?*}"
    query="${admin#"$base"}"
    scheme="${base%%://*}"
    rest="${base#*://}"
    authority="${rest%%/*}"

    case "$name" in *[!A-Za-z0-9_]*)
        dojoql_log "DOJOQL_DATABASE_NAME must be letters, digits and _ only"
        return 1
        ;;
    esac

    exists="$(psql -w "$admin" -XAtqc "select 1 from pg_database where datname = '$name'" 2>&1)" || {
        printf '%s\n' "$exists" >&2
        return 1
    }
    if [ "$exists" != 1 ]; then
        dojoql_log "creating database $name"
        # CREATE DATABASE cannot run inside a transaction: issue it alone.
        if ! psql -w "$admin" -XqAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$name\"" >/dev/null; then
            # Lost a race with a concurrent run? Then it exists now.
            exists="$(psql -w "$admin" -XAtqc "select 1 from pg_database where datname = '$name'" 2>/dev/null || true)"
            [ "$exists" = 1 ] || return 1
        fi
    fi
    DATABASE_URL="$scheme://$authority/$name$query"
    export DATABASE_URL
}

# ------------------------------------------------------------------- Redis --

dojoql_redis_ok() {
    [ -n "$1" ] && [ "$(timeout 5 redis-cli -u "$1" ping 2>/dev/null)" = PONG ]
}

dojoql_redis_own() {
    local state="$1" port pid
    mkdir -p "$state" || return 1

    # Already running from an earlier run?
    port="$(cat "$state/redis.port" 2>/dev/null || true)"
    pid="$(cat "$state/redis.pid" 2>/dev/null || true)"
    if [ -n "$port" ] && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        dojoql_redis_ok "redis://127.0.0.1:$port"; then
        dojoql_log "our own Redis is already running (pid $pid, port $port)"
        printf 'redis://127.0.0.1:%s\n' "$port"
        return 0
    fi

    port="$(dojoql_free_port "${DOJOQL_REDIS_PORT:-56379}")" || return 1
    dojoql_log "starting our own Redis on 127.0.0.1:$port (log: $state/redis.log)"
    rm -f "$state/redis.pid"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' --appendonly no \
        --dir "$state" --pidfile "$state/redis.pid" --logfile "$state/redis.log" >&2 || return 1
    printf '%s\n' "$port" >"$state/redis.port"
    local i=0
    while [ "$i" -lt 50 ]; do
        if dojoql_redis_ok "redis://127.0.0.1:$port"; then
            printf 'redis://127.0.0.1:%s\n' "$port"
            return 0
        fi
        sleep 0.2
        i=$((i + 1))
    done
    tail -n 20 "$state/redis.log" >&2 2>/dev/null || true
    dojoql_log "Redis did not answer on port $port (log above, also in $state/redis.log)"
    return 1
}

dojoql_setup_redis() {
    local state="$1" url default
    default="${DOJOQL_REDIS_DEFAULT_URL:-redis://127.0.0.1:6379}"

    if ! command -v redis-cli >/dev/null 2>&1; then
        # redis-server brings redis-cli (via redis-tools); we may need the server anyway.
        if [ -n "${REDIS_URL:-}" ]; then
            dojoql_apt_install redis-tools || return 1
        else
            dojoql_apt_install redis-server || return 1
        fi
        hash -r
    fi

    url=""
    if [ -n "${REDIS_URL:-}" ]; then
        if dojoql_redis_ok "$REDIS_URL"; then
            url="$REDIS_URL"
            dojoql_log "Redis: using REDIS_URL ($(dojoql_redact "$url"))"
        else
            dojoql_log "Redis: REDIS_URL ($(dojoql_redact "$REDIS_URL")) does not answer PONG, looking elsewhere"
        fi
    fi
    if [ -z "$url" ]; then
        if dojoql_redis_ok "$default"; then
            url="$default"
            dojoql_log "Redis: found $(dojoql_redact "$url")"
        else
            dojoql_log "Redis: nothing usable at $(dojoql_redact "$default")"
            if ! command -v redis-server >/dev/null 2>&1; then
                dojoql_apt_install redis-server || return 1
                hash -r
            fi
            url="$(dojoql_redis_own "$state")" || return 1
            dojoql_log "Redis: using our own server ($url)"
        fi
    fi
    REDIS_URL="$url"
    export REDIS_URL
}

# ---------------------------------------------------------------- toolchain --

# A C linker is needed to build any Rust binary; rustup-only installs may lack it.
dojoql_ensure_linker() {
    if ! command -v cc >/dev/null 2>&1; then
        dojoql_apt_install gcc libc6-dev || return 1
    fi
}

# ------------------------------------------------------------------------------

dojoql_services() {
    local state="${DOJOQL_STATE_DIR:-/var/tmp/dojoql}"
    case "$state" in /*) ;; *) state="$PWD/$state" ;; esac
    dojoql_setup_postgres "$state" || return 1
    dojoql_setup_database || return 1
    dojoql_setup_redis "$state" || return 1
    dojoql_ensure_linker || return 1
    dojoql_log "DATABASE_URL=$(dojoql_redact "$DATABASE_URL")"
    dojoql_log "REDIS_URL=$(dojoql_redact "$REDIS_URL")"
}

if ! dojoql_services; then
    dojoql_log "could not get Postgres and Redis running (see messages above)"
    # `return` when sourced (the normal case), `exit` when run directly.
    # shellcheck disable=SC2317
    return 1 2>/dev/null || exit 1
fi
