#!/usr/bin/env bash
# Installs what building and testing tarsmon needs on a fresh Debian machine, and nothing that
# is already there: clang/libclang (RocksDB's bindings), Node.js + npm and the pinned @tars/*
# npm packages (interop tests), MariaDB (the MySQL exporter's tests start their own mariadbd).
# Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The real npm packages the interop tests run against, at the versions in package-lock.json.
if [ ! -f interop/node/node_modules/.package-lock.json ] ||
   ! cmp -s interop/node/package-lock.json interop/node/.installed-lock.json; then
  echo "setup: npm ci in interop/node"
  (cd interop/node && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json .installed-lock.json)
fi
