#!/usr/bin/env bash
# Builds the Dockerfile without Docker (buildah, chroot isolation) and runs the image, on a machine with
# no container engine and no registry but npm's and Debian's. Root only. About 2 minutes on 2 cores.
#
#   sudo bash deploy/scripts/buildah-check.sh
#
# 1. A stand-in for node:20-bookworm-slim, made locally once (localhost/shum-node-base:20): a Debian
#    bookworm minbase (debootstrap) with this machine's Node 20 and npm, the user `node` (uid 1000), and
#    this machine's CA bundle (so `npm ci` inside the build trusts the same TLS as the host).
# 2. `buildah bud --isolation chroot` of the migrate, worker and server targets against it.
# 3. The images run: migrations on a fresh database (PostgreSQL on 127.0.0.1:5432); the server and the
#    worker (Redis on 127.0.0.1:6379, database 15) each start as uid 1000, answer /ready and their other
#    endpoints, pass their image's HEALTHCHECK command, and exit 0 on SIGTERM; sharp loads.
# With Docker the same build is `docker build -t shum-booking .` (see README, Deployment).
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=localhost/shum-node-base:20
DB_ADMIN_URL=${TEST_DATABASE_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
export BUILDAH_ISOLATION=chroot

log() { printf '\n== %s\n' "$*"; }
[ "$(id -u)" = 0 ] || {
  echo "run as root (buildah with chroot isolation)" >&2
  exit 1
}

missing=()
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# The node process under a `buildah run` (its pid), found among the runner's descendants.
descendants() {
  local child
  for child in $(pgrep -P "$1"); do
    echo "$child"
    descendants "$child"
  done
}
node_under() {
  local pid
  for pid in $(descendants "$1"); do
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = node ]; then echo "$pid"; fi
  done
}

work=$(mktemp -d)
containers=()
database=""
runner=""
cleanup() {
  if [ -n "$runner" ] && kill -0 "$runner" 2>/dev/null; then
    for pid in $(node_under "$runner"); do kill -TERM "$pid" 2>/dev/null || true; done
    wait "$runner" 2>/dev/null || true
  fi
  for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
  if [ -n "$database" ]; then psql "$DB_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true; fi
  if [ -n "${stream:-}" ] && command -v redis-cli >/dev/null 2>&1; then
    redis-cli -u "$redis_url" --scan --pattern "$stream*" | while read -r key; do redis-cli -u "$redis_url" del "$key" >/dev/null; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. the base ----------------------------------------------------------------------------------------
if ! buildah inspect --type image "$BASE" >/dev/null 2>&1; then
  log "making $BASE (debootstrap bookworm + this machine's Node $(node --version))"
  case "$(node --version)" in v20.*) ;; *)
    echo "this machine's Node is not 20" >&2
    exit 1
    ;;
  esac
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log"
  # npm's own package directory, wherever this machine keeps it (`bin/npm-cli.js` or a wrapper script in `bin/`)
  npm_dir=$(dirname "$(readlink -f "$(command -v npm)")")
  while [ "$npm_dir" != / ] && ! grep -qs '"name": *"npm"' "$npm_dir/package.json"; do
    npm_dir=$(dirname "$npm_dir")
  done
  if [ "$npm_dir" = / ]; then
    echo "cannot find npm's package directory from $(command -v npm)" >&2
    exit 1
  fi
  ctr=$(buildah from scratch)
  containers+=("$ctr")
  mnt=$(buildah mount "$ctr")
  cp -a "$work/rootfs/." "$mnt/"
  cp "$(readlink -f "$(command -v node)")" "$mnt/usr/bin/node"
  mkdir -p "$mnt/usr/lib/node_modules"
  cp -a "$npm_dir" "$mnt/usr/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/bin/npx"
  mkdir -p "$mnt/etc/ssl/certs" # minbase has no ca-certificates package: this machine's bundle instead
  cp /etc/ssl/certs/ca-certificates.crt "$mnt/etc/ssl/certs/ca-certificates.crt"
  chroot "$mnt" sh -c 'groupadd -g 1000 node && useradd -u 1000 -g node -m -s /bin/sh node'
  buildah umount "$ctr" >/dev/null
  buildah config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd node "$ctr"
  buildah commit -q "$ctr" "$BASE" >/dev/null
fi

# --- 2. the build ---------------------------------------------------------------------------------------
for target in migrate worker server; do
  log "buildah bud --target $target"
  buildah bud --quiet --format docker --isolation chroot --layers --force-rm --build-arg "NODE_IMAGE=$BASE" \
    --target "$target" -t "localhost/shum-booking:$target" .
done

# --- 3. the images run ----------------------------------------------------------------------------------
database="shum_image_check_$$"
psql "$DB_ADMIN_URL" -qc "CREATE DATABASE $database"
database_url="${DB_ADMIN_URL%/*}/$database"
# a port below the kernel's ephemeral range (32768 and up, where an outgoing connection's local port would make
# the server's bind fail with EADDRINUSE — seen in a CI run), and not listened on
port=$((20000 + $$ % 12000))
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
# the worker's Redis: a database of its own, and a stream prefix of its own
redis_url=${IMAGE_CHECK_REDIS_URL:-redis://127.0.0.1:6379/15}
stream="shum:image-check-$$"

log "migrate"
ctr=$(buildah from "localhost/shum-booking:migrate")
containers+=("$ctr")
buildah run --env "DATABASE_URL=$database_url" "$ctr" -- node packages/infra/dist/bin/migrate.js

# run TARGET PATH...: starts the target's default command on $port (PORT for the server, WORKER_PORT for the
# worker's probe server), waits for /ready, GETs each PATH, runs
# the image's HEALTHCHECK command inside it, then SIGTERM: the process must exit 0.
run_target() {
  local target=$1 path pid
  shift
  log "$target"
  ctr=$(buildah from "localhost/shum-booking:$target")
  containers+=("$ctr")
  test "$(buildah run "$ctr" -- id -u)" = 1000
  buildah inspect --type image "localhost/shum-booking:$target" >"$work/$target.json"
  mapfile -t command < <(node -e '
    const config = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Docker.config
    for (const arg of config.Cmd) console.log(arg)' "$work/$target.json")
  mapfile -t check < <(node -e '
    const test = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).Docker.config.Healthcheck?.Test ?? []
    if (test[0] === "CMD") for (const arg of test.slice(1)) console.log(arg)' "$work/$target.json")
  [ "${#check[@]}" -gt 0 ] || {
    echo "no HEALTHCHECK in the $target image" >&2
    exit 1
  }
  buildah run --env "DATABASE_URL=$database_url" --env "REDIS_URL=$redis_url" --env "IMAGE_STREAM=$stream" \
    --env "PORT=$port" --env "WORKER_PORT=$port" --env JWT_SECRET_KEY=image-check-secret-0123456789 \
    "$ctr" -- "${command[@]}" >"$work/$target.log" 2>&1 &
  runner=$!
  for _ in $(seq 1 60); do
    if curl -fsS "http://127.0.0.1:$port/ready" >/dev/null 2>&1; then break; fi
    sleep 1
  done
  curl -fsS "http://127.0.0.1:$port/ready" || {
    tail -n 20 "$work/$target.log" >&2
    exit 1
  }
  echo
  for path in "$@"; do curl -fsS -o "$work/body" "http://127.0.0.1:$port$path" && echo "GET $path ok"; done
  if [ "$target" = worker ]; then
    curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^# TYPE image_jobs_total counter'
    echo "worker /metrics has image_jobs_total"
  fi
  buildah run --env "PORT=$port" --env "WORKER_PORT=$port" "$ctr" -- "${check[@]}"
  echo "HEALTHCHECK passes"
  pid=$(node_under "$runner" | tail -n 1)
  [ -n "$pid" ] || {
    echo "$target process not found" >&2
    exit 1
  }
  kill -TERM "$pid"
  wait "$runner"
  runner=""
  echo "$target stopped on SIGTERM with exit code 0"
}

ctr=$(buildah from "localhost/shum-booking:server")
containers+=("$ctr")
buildah run "$ctr" -- node -e "import('sharp').then((m) => console.log('sharp', m.default.versions.sharp))"
run_target server /countries /health
run_target worker /live /metrics
log "image check passed"
