#!/bin/sh
# Renders nginx.conf.template from the environment and runs nginx in the foreground (the nginx container's
# command in docker-compose.local.yml and deploy/k3s). POSIX sh: runs on the nginx:alpine image (busybox)
# and on Debian alike; needs envsubst (gettext), which the official nginx images ship.
#
#   entrypoint.sh            render into $NGINX_RUNTIME_DIR/nginx.conf, then exec nginx
#   entrypoint.sh --render   render only and print the rendered file's path
#   entrypoint.sh --test     render, then `nginx -t` (exit code is nginx's)
#
# Variables (the app's own names where they mean the same thing, docs/operations.md §2 / D10):
#   RATE_LIMIT_PER_MINUTE       edge limit per client on every proxied path   (default 60)
#   RATE_LIMIT_AUTH_PER_MINUTE  edge limit per client on register/login/refresh (default 5)
#   MAX_IMAGE_FILE_SIZE_MB      upload limit; nginx allows this plus 1 MiB     (default 10)
#   ROOT_PATH                   public prefix, stripped before routing         (default empty)
#   NGINX_UPSTREAM              the app, host:port; several comma-separated     (default server:8000)
#                               (replicas nginx balances itself; K3s gives one Service)
#   NGINX_LISTEN                listen address or port                         (default 8080: no root needed)
#   NGINX_IMAGE_DIR             the shared image volume                        (default /usr/share/nginx/html/images)
#   NGINX_REAL_IP_FROM          comma-separated CIDRs of proxies in front of nginx whose X-Forwarded-For is
#                               believed (the ingress controller's pod network); empty: nginx is the edge
#   NGINX_METRICS_ALLOW         comma-separated CIDRs allowed to read /metrics (default: loopback and
#                               private ranges); empty or `none`: nobody
#   NGINX_RUNTIME_DIR           writable directory for the rendered config, pid and temp files (default /tmp/nginx)
#   NGINX_ACCESS_LOG, NGINX_ERROR_LOG   (default /dev/stdout, /dev/stderr)
#   NGINX_WORKER_PROCESSES      (default auto)
#   NGINX_MIME_TYPES            (default /etc/nginx/mime.types)
#   NGINX_USER                  worker user when started as root (default nginx); ignored otherwise
#   NGINX_TEMPLATE              (default: nginx.conf.template next to this script)
set -eu

fail() {
  echo "nginx entrypoint: $*" >&2
  exit 64
}

positive_int() { # name value
  case "$2" in
    '' | *[!0-9]* | 0*) fail "$1 must be a positive integer, got \"$2\"" ;;
  esac
}

cidr_list() { # name value -> one CIDR per line
  printf '%s\n' "$2" | tr ',' '\n' | while IFS= read -r item; do
    item=$(printf '%s' "$item" | tr -d ' \t')
    [ -n "$item" ] || continue
    printf '%s\n' "$item" | grep -Eq '^([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)(/[0-9]{1,3})?$' ||
      fail "$1 must list IP addresses or CIDR ranges, got \"$item\""
    printf '%s\n' "$item"
  done
}

script_dir=$(cd "$(dirname "$0")" && pwd)

RATE_LIMIT_PER_MINUTE=${RATE_LIMIT_PER_MINUTE:-60}
RATE_LIMIT_AUTH_PER_MINUTE=${RATE_LIMIT_AUTH_PER_MINUTE:-5}
MAX_IMAGE_FILE_SIZE_MB=${MAX_IMAGE_FILE_SIZE_MB:-10}
ROOT_PATH=${ROOT_PATH:-}
NGINX_UPSTREAM=${NGINX_UPSTREAM:-server:8000}
NGINX_LISTEN=${NGINX_LISTEN:-8080}
NGINX_IMAGE_DIR=${NGINX_IMAGE_DIR:-/usr/share/nginx/html/images}
NGINX_REAL_IP_FROM=${NGINX_REAL_IP_FROM:-}
NGINX_METRICS_ALLOW=${NGINX_METRICS_ALLOW-127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7}
NGINX_RUNTIME_DIR=${NGINX_RUNTIME_DIR:-/tmp/nginx}
NGINX_ACCESS_LOG=${NGINX_ACCESS_LOG:-/dev/stdout}
NGINX_ERROR_LOG=${NGINX_ERROR_LOG:-/dev/stderr}
NGINX_WORKER_PROCESSES=${NGINX_WORKER_PROCESSES:-auto}
NGINX_MIME_TYPES=${NGINX_MIME_TYPES:-/etc/nginx/mime.types}
NGINX_TEMPLATE=${NGINX_TEMPLATE:-$script_dir/nginx.conf.template}

positive_int RATE_LIMIT_PER_MINUTE "$RATE_LIMIT_PER_MINUTE"
positive_int RATE_LIMIT_AUTH_PER_MINUTE "$RATE_LIMIT_AUTH_PER_MINUTE"
positive_int MAX_IMAGE_FILE_SIZE_MB "$MAX_IMAGE_FILE_SIZE_MB"
case "$NGINX_WORKER_PROCESSES" in
  auto) ;;
  *) positive_int NGINX_WORKER_PROCESSES "$NGINX_WORKER_PROCESSES" ;;
esac
NGINX_UPSTREAM_SERVERS=""
for upstream in $(printf '%s' "$NGINX_UPSTREAM" | tr ',' ' '); do
  printf '%s' "$upstream" | grep -Eq '^[A-Za-z0-9.-]+:[0-9]+$|^\[[0-9A-Fa-f:]+\]:[0-9]+$' ||
    fail "NGINX_UPSTREAM must be host:port (several: comma-separated), got \"$NGINX_UPSTREAM\""
  NGINX_UPSTREAM_SERVERS="$NGINX_UPSTREAM_SERVERS server $upstream max_fails=3 fail_timeout=10s;"
done
[ -n "$NGINX_UPSTREAM_SERVERS" ] || fail "NGINX_UPSTREAM must be host:port, got \"$NGINX_UPSTREAM\""
printf '%s' "$NGINX_LISTEN" | grep -Eq '^([A-Za-z0-9.-]+:|\[[0-9A-Fa-f:]+\]:)?[0-9]+$' ||
  fail "NGINX_LISTEN must be a port or address:port, got \"$NGINX_LISTEN\""
for path_var in NGINX_IMAGE_DIR NGINX_RUNTIME_DIR; do
  eval "path_value=\$$path_var"
  # shellcheck disable=SC2154 # assigned by the eval above
  case "$path_value" in
    /*) ;;
    *) fail "$path_var must be an absolute path, got \"$path_value\"" ;;
  esac
  printf '%s' "$path_value" | grep -Eq '^[A-Za-z0-9._/-]+$' || fail "$path_var has unexpected characters: \"$path_value\""
done

# ROOT_PATH: like the app's check (Config.ts), trailing slashes dropped; dots escaped for the regex.
ROOT_PATH=$(printf '%s' "$ROOT_PATH" | sed 's:/*$::')
NGINX_ROOT_PATH_REWRITE=""
# The prefix as an optional regex group, for the internal-only locations (matched in any letter case).
NGINX_ROOT_PATH_OPTIONAL_RE=""
if [ -n "$ROOT_PATH" ]; then
  printf '%s' "$ROOT_PATH" | grep -Eq '^(/[A-Za-z0-9._~-]+)+$' ||
    fail "ROOT_PATH must be a path prefix like /apps/shum-booking, got \"$ROOT_PATH\""
  root_re=$(printf '%s' "$ROOT_PATH" | sed 's/\./\\./g')
  NGINX_ROOT_PATH_REWRITE="rewrite ^$root_re(/.*)\$ \$1 last; rewrite ^$root_re\$ / last;"
  NGINX_ROOT_PATH_OPTIONAL_RE="(?:$root_re)?"
fi

# (assigned first, so a bad entry stops the script: set -e sees the substitution's status)
real_ip_cidrs=$(cidr_list NGINX_REAL_IP_FROM "$NGINX_REAL_IP_FROM")
metrics_cidrs=""
if [ "$NGINX_METRICS_ALLOW" != "none" ]; then
  metrics_cidrs=$(cidr_list NGINX_METRICS_ALLOW "$NGINX_METRICS_ALLOW")
fi

NGINX_REAL_IP_DIRECTIVES=""
for cidr in $real_ip_cidrs; do
  NGINX_REAL_IP_DIRECTIVES="$NGINX_REAL_IP_DIRECTIVES set_real_ip_from $cidr;"
done

NGINX_METRICS_ALLOW_ENTRIES=""
for cidr in $metrics_cidrs; do
  NGINX_METRICS_ALLOW_ENTRIES="$NGINX_METRICS_ALLOW_ENTRIES $cidr 1;"
done

NGINX_USER_DIRECTIVE=""
if [ "$(id -u)" = 0 ]; then
  NGINX_USER_DIRECTIVE="user ${NGINX_USER:-nginx};"
fi

NGINX_CLIENT_MAX_BODY_SIZE="$((MAX_IMAGE_FILE_SIZE_MB + 1))m"
NGINX_TOO_LARGE_DETAIL="Размер файла превышает допустимый лимит $MAX_IMAGE_FILE_SIZE_MB МБ"

[ -r "$NGINX_TEMPLATE" ] || fail "template not found: $NGINX_TEMPLATE"
command -v envsubst >/dev/null 2>&1 || fail "envsubst is missing (install gettext)"

export RATE_LIMIT_PER_MINUTE RATE_LIMIT_AUTH_PER_MINUTE NGINX_UPSTREAM_SERVERS NGINX_LISTEN NGINX_IMAGE_DIR \
  NGINX_RUNTIME_DIR NGINX_ACCESS_LOG NGINX_ERROR_LOG NGINX_WORKER_PROCESSES NGINX_MIME_TYPES \
  NGINX_ROOT_PATH_REWRITE NGINX_ROOT_PATH_OPTIONAL_RE NGINX_REAL_IP_DIRECTIVES NGINX_METRICS_ALLOW_ENTRIES NGINX_USER_DIRECTIVE \
  NGINX_CLIENT_MAX_BODY_SIZE NGINX_TOO_LARGE_DETAIL

mkdir -p "$NGINX_RUNTIME_DIR"
conf="$NGINX_RUNTIME_DIR/nginx.conf"
# shellcheck disable=SC2016 # the single-quoted names are envsubst's list, not shell expansions
envsubst '${RATE_LIMIT_PER_MINUTE} ${RATE_LIMIT_AUTH_PER_MINUTE} ${NGINX_UPSTREAM_SERVERS} ${NGINX_LISTEN}
${NGINX_IMAGE_DIR} ${NGINX_RUNTIME_DIR} ${NGINX_ACCESS_LOG} ${NGINX_ERROR_LOG} ${NGINX_WORKER_PROCESSES}
${NGINX_MIME_TYPES} ${NGINX_ROOT_PATH_REWRITE} ${NGINX_ROOT_PATH_OPTIONAL_RE} ${NGINX_REAL_IP_DIRECTIVES} ${NGINX_METRICS_ALLOW_ENTRIES}
${NGINX_USER_DIRECTIVE} ${NGINX_CLIENT_MAX_BODY_SIZE} ${NGINX_TOO_LARGE_DETAIL}' <"$NGINX_TEMPLATE" >"$conf"

case "${1:-}" in
  --render)
    echo "$conf"
    exit 0
    ;;
  --test) exec nginx -t -e stderr -p "$NGINX_RUNTIME_DIR/" -c "$conf" ;;
  '') exec nginx -e stderr -p "$NGINX_RUNTIME_DIR/" -c "$conf" ;;
  *) fail "unknown argument: $1 (expected --render, --test or nothing)" ;;
esac
