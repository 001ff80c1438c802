#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests, on loopback, in a temp directory.
#
#   source .ci/postgres.sh            # starts it; exports TRUSTLOOP_TEST_POSTGRES_URL and
#   trap trustloop_postgres_stop EXIT # defines trustloop_postgres_stop (stops it, deletes it)
#
#   .ci/postgres.sh                   # the same as a command: prints the export line and
#                                     # the command that stops the server
#
# Installs the Debian/Ubuntu `postgresql` package when no server binaries are found (with
# sudo unless root). The cluster runs as the calling user, or as `postgres` when called as
# root (initdb refuses root); its superuser has a random password and accepts TCP
# connections on 127.0.0.1 only, on a free port (or $TRUSTLOOP_POSTGRES_PORT). Durability
# is switched off: the data is thrown away anyway, and the tests run faster.
# Safe to source from a `set -euo pipefail` script: it changes no shell options.

_trustloop_pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

_trustloop_pg_install() {
  local sudo=""
  if [ "$(id -u)" != "0" ]; then
    sudo="sudo"
  fi
  echo "postgres.sh: installing postgresql" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

_trustloop_pg_free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Run a command as the cluster's owner.
_trustloop_pg_as_owner() {
  if [ "$(id -u)" = "0" ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

trustloop_postgres_stop() {
  if [ -n "${TRUSTLOOP_POSTGRES_DIR:-}" ] && [ -d "$TRUSTLOOP_POSTGRES_DIR" ]; then
    _trustloop_pg_as_owner "$TRUSTLOOP_POSTGRES_BIN/pg_ctl" -D "$TRUSTLOOP_POSTGRES_DIR/data" \
      -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$TRUSTLOOP_POSTGRES_DIR"
  fi
}

_trustloop_pg_start() {
  local bin dir port password user=trustloop database=trustloop_test
  if ! bin="$(_trustloop_pg_bindir)"; then
    _trustloop_pg_install || return 1
    bin="$(_trustloop_pg_bindir)" || {
      echo "postgres.sh: no initdb/pg_ctl after installing postgresql" >&2
      return 1
    }
  fi
  dir="$(mktemp -d "${TMPDIR:-/tmp}/trustloop-pg.XXXXXX")" || return 1
  chmod 700 "$dir"
  if [ "$(id -u)" = "0" ]; then
    chown postgres: "$dir"
  fi
  port="${TRUSTLOOP_POSTGRES_PORT:-$(_trustloop_pg_free_port)}"
  password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
  printf '%s\n' "$password" >"$dir/pwfile"
  if [ "$(id -u)" = "0" ]; then
    chown postgres: "$dir/pwfile"
  fi
  if ! _trustloop_pg_as_owner "$bin/initdb" -D "$dir/data" -U "$user" --pwfile="$dir/pwfile" \
    --auth-host=scram-sha-256 --auth-local=scram-sha-256 -E UTF8 --locale=C \
    >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    return 1
  fi
  rm -f "$dir/pwfile"
  if ! _trustloop_pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
    cat "$dir/server.log" >&2
    rm -rf "$dir"
    return 1
  fi
  TRUSTLOOP_POSTGRES_BIN="$bin"
  TRUSTLOOP_POSTGRES_DIR="$dir"
  if ! PGPASSWORD="$password" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U "$user" -d postgres \
    -c "CREATE DATABASE $database" >/dev/null 2>"$dir/psql.log"; then
    cat "$dir/psql.log" >&2
    trustloop_postgres_stop
    return 1
  fi
  TRUSTLOOP_TEST_POSTGRES_URL="postgresql+asyncpg://$user:$password@127.0.0.1:$port/$database"
  export TRUSTLOOP_POSTGRES_BIN TRUSTLOOP_POSTGRES_DIR TRUSTLOOP_TEST_POSTGRES_URL
  echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on" \
    "127.0.0.1:$port, data in $dir" >&2
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  _trustloop_pg_start || return 1
else
  set -euo pipefail
  _trustloop_pg_start
  echo "export TRUSTLOOP_TEST_POSTGRES_URL='$TRUSTLOOP_TEST_POSTGRES_URL'"
  owner=""
  if [ "$(id -u)" = "0" ]; then
    owner="runuser -u postgres -- "
  fi
  echo "# stop it with: $owner$TRUSTLOOP_POSTGRES_BIN/pg_ctl -D $TRUSTLOOP_POSTGRES_DIR/data -m immediate stop && rm -rf $TRUSTLOOP_POSTGRES_DIR"
fi
