#!/usr/bin/env bash
# Installs the Debian tools that `npm run test:deploy` (and the fault suite's nginx) needs, when missing:
# nginx, shellcheck, envsubst (gettext-base), promtool (prometheus) and chromium. Needs root or
# password-less sudo; otherwise names what is missing and fails. kubectl (its built-in kustomize) is not a
# Debian package: it comes with this machine's image and with GitHub's runners.
set -euo pipefail

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -gt 0 ]; then
  sudo=()
  if [ "$(id -u)" != 0 ]; then
    if sudo -n true 2>/dev/null; then
      sudo=(sudo -n)
    else
      echo "missing Debian packages: ${missing[*]} (install them, or run as root / with password-less sudo)" >&2
      exit 1
    fi
  fi
  echo "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v kubectl >/dev/null 2>&1 || echo "kubectl is missing: the K3s manifest checks will fail" >&2
exit 0
