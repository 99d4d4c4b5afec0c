#!/usr/bin/env bash
# Deploys Shum Booking to the K3s cluster that kubectl points at (docs/operations.md §9, docs/decisions.md D8). Run by
# .github/workflows/deploy.yml; runs as well from a laptop with a kubeconfig for the cluster.
#
#   PROD_ENV_FILE=prod.env APP_IMAGE=ghcr.io/owner/repo:sha deploy/scripts/k3s-deploy.sh
#   ... deploy/scripts/k3s-deploy.sh --render-only OUT_DIR   # no cluster: write what would be applied
#
# In order, and never deleting data (no PersistentVolumeClaim is ever deleted; on a cluster the original
# deployed, its workloads are replaced once, their claims kept):
#   1. the settings: the app variables of PROD_ENV_FILE (the server's ~/.prod.env) become the ConfigMap
#      booking-config and the Secret booking-secrets; its deployment variables become overlays/prod's
#      deploy.env; the manifests are rendered with kustomize;
#   2. namespace, configuration, storage, Postgres, Redis, network policies, issuers (everything but the
#      app), then wait for Postgres and Redis;
#   3. the migration Job with the new image, waited for (a failure stops the deploy before any rollout);
#   4. the server, the worker and nginx (rolling, gated by readiness), waited for;
#   5. monitoring (when the Prometheus Operator is installed), and `Retain` on the data volumes.
#
# Inputs (environment): PROD_ENV_FILE (required), APP_IMAGE (required), CI_PROVIDER (default github:
# compared with ACTIVE_CI_PROVIDER of the env file), CI_REGISTRY / CI_REGISTRY_USER /
# CI_REGISTRY_PASSWORD / CI_REGISTRY_EMAIL (optional: the image pull secret), KUBE_NAMESPACE (booking).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy_dir=$(cd "$here/.." && pwd)
namespace=${KUBE_NAMESPACE:-booking}

# Application variables that are secrets (the Secret); every other app variable goes to the ConfigMap.
secret_keys=(DB_USERNAME DB_PASSWORD JWT_SECRET_KEY REDIS_PASSWORD ADMIN_PASSWORD DATABASE_URL REDIS_URL
  WEBHOOK_SECRET_KEY)
config_keys=(APP_ENV HOST PORT ROOT_PATH CORS_ORIGINS TRUSTED_PROXIES SHUTDOWN_TIMEOUT_SECONDS
  SHUTDOWN_DRAIN_SECONDS DB_HOST DB_PORT DB_NAME DB_POOL_SIZE REDIS_HOST REDIS_PORT REDIS_DB JWT_ALGORITHM
  JWT_ACCESS_TOKEN_EXPIRE_MINUTES JWT_REFRESH_TOKEN_EXPIRE_DAYS JWT_COOKIE_SECURE ADMIN_EMAIL LOG_LEVEL
  LOG_FORMAT_JSON ENABLE_METRICS_IN_TESTS OTEL_EXPORTER_OTLP_ENDPOINT RATE_LIMIT_ENABLED
  RATE_LIMIT_ENABLED_IN_TESTS RATE_LIMIT_PER_MINUTE RATE_LIMIT_AUTH_PER_MINUTE MAX_IMAGE_FILE_SIZE_MB IMAGE_DIR
  IMAGE_UPLOAD_WAIT_SECONDS IMAGE_JOB_MAX_ATTEMPTS IMAGE_STREAM IMAGE_JOB_VISIBILITY_TIMEOUT_SECONDS
  IMAGE_JOB_TIMEOUT_SECONDS IMAGE_JOB_RETRY_DELAY_SECONDS IMAGE_PENDING_REQUEUE_SECONDS IMAGE_MAX_INPUT_PIXELS
  IMAGE_WORKER_CONCURRENCY WORKER_NAME WORKER_PORT
  EMBEDDED_POSTGRES_DIR EMBEDDED_POSTGRES_PORT MAX_STAY_NIGHTS BOOKING_HORIZON_DAYS MAX_JSON_BODY_KB
  HTTP_HEADERS_TIMEOUT_SECONDS HTTP_REQUEST_TIMEOUT_SECONDS HTTP_KEEP_ALIVE_TIMEOUT_SECONDS HTTP_SEND_TIMEOUT_SECONDS
  HOLD_TTL_SECONDS MAX_ACTIVE_HOLDS_PER_USER WEBHOOK_ALLOWED_HOSTS WEBHOOK_TIMEOUT_SECONDS WEBHOOK_MAX_ATTEMPTS
  WEBHOOK_RETRY_BASE_SECONDS WEBHOOK_LEASE_SECONDS WEBHOOK_POLL_MS WEBHOOK_CONCURRENCY
  WEBHOOK_RETENTION_DAYS CATALOGUE_CACHE_ENABLED CATALOGUE_CACHE_MAX_ENTRIES CATALOGUE_CACHE_MAX_MB
  AUDIT_SIGN_IN_BURST_THRESHOLD AUDIT_SIGN_IN_BURST_WINDOW_SECONDS)
# Defaults where .prod.env leaves a key out (docs/operations.md §9.3).
declare -A defaults=(
  [DB_USERNAME]=postgres [DB_NAME]=booking [DB_HOST]=postgres-service [DB_PORT]=5432
  [REDIS_HOST]=redis-service [REDIS_PORT]=6379 [REDIS_DB]=0 [REDIS_PASSWORD]=""
  [APP_ENV]=production [ROOT_PATH]=/apps/shum-booking [LOG_FORMAT_JSON]=true [JWT_COOKIE_SECURE]=true
  [RATE_LIMIT_PER_MINUTE]=60 [RATE_LIMIT_AUTH_PER_MINUTE]=5 [MAX_IMAGE_FILE_SIZE_MB]=10
)

log() { printf '\n== %s\n' "$*"; }
die() {
  printf 'k3s-deploy: %s\n' "$*" >&2
  exit 1
}

render_only=""
if [ "${1:-}" = "--render-only" ]; then
  render_only=${2:?--render-only needs an output directory}
fi
: "${PROD_ENV_FILE:?PROD_ENV_FILE must name the .prod.env to deploy with}"
: "${APP_IMAGE:?APP_IMAGE must name the image to deploy (registry/name:tag)}"
[ -r "$PROD_ENV_FILE" ] || die "cannot read $PROD_ENV_FILE"

# --- 1. settings -----------------------------------------------------------------------------------------
# KEY=VALUE lines, read as data (never sourced); surrounding quotes are dropped.
declare -A env_values=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  case "$line" in '' | '#'*) continue ;; esac
  [[ "$line" =~ ^(export[[:space:]]+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || die "$PROD_ENV_FILE: not KEY=VALUE: $line"
  key=${BASH_REMATCH[2]}
  value=${BASH_REMATCH[3]}
  if [[ "$value" =~ ^\"(.*)\"$ ]] || [[ "$value" =~ ^\'(.*)\'$ ]]; then value=${BASH_REMATCH[1]}; fi
  env_values[$key]=$value
done <"$PROD_ENV_FILE"

setting() { # key -> the env file's non-empty value, else the default, else empty
  local value=${env_values[$1]:-}
  if [ -z "$value" ]; then value=${defaults[$1]:-}; fi
  printf '%s' "$value"
}

provider=$(setting ACTIVE_CI_PROVIDER)
if [ -n "$provider" ] && [ "$provider" != "${CI_PROVIDER:-github}" ]; then
  echo "ACTIVE_CI_PROVIDER is '$provider', not '${CI_PROVIDER:-github}': this CI does not deploy. Nothing changed."
  exit 0
fi
for required in DB_PASSWORD JWT_SECRET_KEY DOMAIN LETSENCRYPT_EMAIL; do
  [ -n "$(setting "$required")" ] || die "$required must be set in $PROD_ENV_FILE"
done
for single in POSTGRES_REPLICAS REDIS_REPLICAS; do
  value=$(setting "$single")
  [ -z "$value" ] || [ "$value" = 1 ] || die "$single must be 1 (one PostgreSQL primary, one Redis), got $value"
done
[ "$(setting KUBE_NAMESPACE)" = "" ] || [ "$(setting KUBE_NAMESPACE)" = "$namespace" ] ||
  die "KUBE_NAMESPACE in $PROD_ENV_FILE differs from the manifests' namespace $namespace"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umask 077

write_env() { # file keys... : KEY=value lines for the keys that have a value (or a default)
  local file=$1 key value
  shift
  : >"$file"
  for key in "$@"; do
    value=$(setting "$key")
    if [ -n "$value" ] || [ "${defaults[$key]+set}" = set ]; then
      printf '%s=%s\n' "$key" "$value" >>"$file"
    fi
  done
}
write_env "$work/config.env" "${config_keys[@]}"
write_env "$work/secret.env" "${secret_keys[@]}"

# The overlay, copied so the checkout stays untouched; deploy.env gets the env file's values.
cp -R "$deploy_dir/k3s" "$deploy_dir/nginx" "$work/"
overlay="$work/k3s/overlays/prod"
case "$(setting LETSENCRYPT_SERVER)" in
  '' | production) cluster_issuer=letsencrypt-prod ;;
  staging) cluster_issuer=letsencrypt-staging ;;
  *) die "LETSENCRYPT_SERVER must be production or staging, got $(setting LETSENCRYPT_SERVER)" ;;
esac
config_hash=$(cat "$work/config.env" "$work/secret.env" | sha256sum | cut -c1-16)
while IFS= read -r line; do
  case "$line" in
    '' | '#'*)
      printf '%s\n' "$line"
      continue
      ;;
  esac
  key=${line%%=*}
  case "$key" in
    APP_IMAGE) value=$APP_IMAGE ;;
    CLUSTER_ISSUER) value=$cluster_issuer ;;
    CONFIG_HASH) value=$config_hash ;;
    *) value=$(setting "$key") ;;
  esac
  if [ -z "$value" ]; then value=${line#*=}; fi
  printf '%s=%s\n' "$key" "$value"
done <"$deploy_dir/k3s/overlays/prod/deploy.env" >"$overlay/deploy.env"

kubectl kustomize "$overlay" >"$work/rendered.yaml"
kubectl kustomize "$work/k3s/monitoring" >"$work/monitoring.yaml"

if [ -n "$render_only" ]; then
  mkdir -p "$render_only"
  cp "$work/rendered.yaml" "$work/monitoring.yaml" "$work/config.env" "$work/secret.env" "$overlay/deploy.env" \
    "$render_only/"
  echo "rendered into $render_only"
  exit 0
fi

# The three groups of objects, by the name label (the namespace and other unlabelled objects are "infra").
infra_selector='app.kubernetes.io/name notin (server,worker,nginx,migrate)'
migrate_selector='app.kubernetes.io/name=migrate'
app_selector='app.kubernetes.io/name in (server,worker,nginx)'

kubectl get crd clusterissuers.cert-manager.io >/dev/null 2>&1 ||
  die "cert-manager is not installed in the cluster (the ClusterIssuers and the TLS certificate need it)"

# --- 2. everything but the app ---------------------------------------------------------------------------
log "namespace and configuration"
kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$namespace" create configmap booking-config --from-env-file="$work/config.env" \
  --dry-run=client -o yaml | kubectl apply -f -
kubectl -n "$namespace" create secret generic booking-secrets --from-env-file="$work/secret.env" \
  --dry-run=client -o yaml | kubectl apply -f -
pull_secret=$(setting IMAGE_PULL_SECRET_NAME)
if [ -n "${CI_REGISTRY_PASSWORD:-}" ] && [ -n "$pull_secret" ]; then
  kubectl -n "$namespace" create secret docker-registry "$pull_secret" --docker-server="${CI_REGISTRY:-ghcr.io}" \
    --docker-username="${CI_REGISTRY_USER:?CI_REGISTRY_USER is needed with CI_REGISTRY_PASSWORD}" \
    --docker-password="$CI_REGISTRY_PASSWORD" --docker-email="${CI_REGISTRY_EMAIL:-none@example.com}" \
    --dry-run=client -o yaml | kubectl apply -f -
fi

# A cluster deployed by the original (docs/operations.md §8) has workloads whose label selectors cannot be changed in
# place: those are replaced once (their claims, and so the data, stay and are reused by name), and the
# original's own app workloads go. Nothing happens on a cluster this script deployed.
log "adopting objects of an earlier deployment, if any"
for workload in statefulset/postgres deployment/redis deployment/nginx; do
  if kubectl -n "$namespace" get "$workload" >/dev/null 2>&1; then
    selected=$(kubectl -n "$namespace" get "$workload" -o jsonpath='{.spec.selector.matchLabels.app\.kubernetes\.io/name}')
    if [ -z "$selected" ]; then
      echo "replacing $workload (selector of an earlier deployment; its volume claim is kept)"
      kubectl -n "$namespace" delete "$workload" --wait=true
    fi
  fi
done
kubectl -n "$namespace" delete deployment/fastapi-app deployment/celery-worker service/fastapi-service \
  --ignore-not-found --wait=true

log "storage, Postgres, Redis, policies, issuers"
kubectl apply -f "$work/rendered.yaml" -l "$infra_selector"
kubectl -n "$namespace" rollout status statefulset/postgres --timeout=300s
kubectl -n "$namespace" rollout status deployment/redis --timeout=300s

# --- 3. migrations -----------------------------------------------------------------------------------------
log "migrations ($APP_IMAGE)"
kubectl -n "$namespace" delete job migrate --ignore-not-found --wait=true
kubectl apply -f "$work/rendered.yaml" -l "$migrate_selector"
state=""
for _ in $(seq 1 120); do
  state=$(kubectl -n "$namespace" get job migrate \
    -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}')
  case "$state" in
    *Complete*) break ;;
    *Failed*) break ;;
  esac
  sleep 5
done
kubectl -n "$namespace" logs job/migrate --all-containers --tail=50 || true
case "$state" in
  *Complete*) echo "migrations done" ;;
  *) die "the migration Job did not complete (state: ${state:-running after 10 minutes}); nothing was rolled out" ;;
esac

# --- 4. the app ------------------------------------------------------------------------------------------
log "server, worker, nginx"
kubectl apply -f "$work/rendered.yaml" -l "$app_selector"
for deployment in server worker nginx; do
  kubectl -n "$namespace" rollout status "deployment/$deployment" --timeout=600s
done

# --- 5. monitoring, data volumes ---------------------------------------------------------------------------
if kubectl get crd servicemonitors.monitoring.coreos.com prometheusrules.monitoring.coreos.com >/dev/null 2>&1; then
  log "monitoring"
  kubectl apply -f "$work/monitoring.yaml"
else
  echo "Prometheus Operator not installed: ServiceMonitor, alerts and dashboard skipped"
fi

log "keep the data volumes when their claims go (Retain)"
for claim in postgres-data-postgres-0 redis-data-pvc booking-images-pvc; do
  volume=$(kubectl -n "$namespace" get pvc "$claim" -o jsonpath='{.spec.volumeName}' 2>/dev/null || true)
  if [ -n "$volume" ]; then
    kubectl patch pv "$volume" -p '{"spec":{"persistentVolumeReclaimPolicy":"Retain"}}'
  fi
done

kubectl -n "$namespace" get pods -o wide
echo "deployed $APP_IMAGE: https://$(setting DOMAIN)$(setting ROOT_PATH)/docs"
