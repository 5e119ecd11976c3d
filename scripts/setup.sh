#!/usr/bin/env bash
# Prepares a fresh Debian machine (Node 20, as root) or an existing checkout for Typevisor:
#   1. Debian packages the tests and demos need (the union of scripts/debian-packages.txt and
#      packages/*/debian-packages.txt and tools/*/debian-packages.txt), installed with apt-get only when missing;
#   2. pnpm, through corepack (pinned by package.json "packageManager"), with npm as fallback;
#   3. the workspace's npm dependencies (frozen lockfile under CI).
# Idempotent: a second run does no network work when everything is present.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
wanted=()
for list in scripts/debian-packages.txt packages/*/debian-packages.txt tools/*/debian-packages.txt; do
  [ -f "$list" ] || continue
  while IFS= read -r line; do
    line="${line%%#*}"; line="${line//[[:space:]]/}"
    [ -n "$line" ] && wanted+=("$line")
  done < "$list"
done
missing=()
for pkg in $(printf '%s\n' "${wanted[@]}" | sort -u); do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing Debian packages: ${missing[*]} (run this script as root, or install them)"
    [ "${CI:-}" = "true" ] && exit 1
  else
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# --- pnpm ---------------------------------------------------------------------------------
pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if ! pnpm --version >/dev/null 2>&1; then
  log "installing pnpm $pnpm_version"
  # Corepack's signature check fails against the keys shipped with Node 20's corepack.
  export COREPACK_INTEGRITY_KEYS=0
  if ! { corepack enable && corepack prepare "pnpm@$pnpm_version" --activate && pnpm --version; } >/dev/null 2>&1; then
    log "corepack failed; installing pnpm with npm"
    npm install -g "pnpm@$pnpm_version" >/dev/null
  fi
fi

# --- npm dependencies -----------------------------------------------------------------------
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile --reporter=append-only
else
  pnpm install --reporter=append-only
fi
log "ready: pnpm $(pnpm --version), node $(node --version)"
