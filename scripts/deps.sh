#!/usr/bin/env bash
# Installs the Debian packages suanchi needs to build, test and run.
# Idempotent: installs only what is missing. As root it runs apt-get; otherwise it
# prints the command to run.
set -eu

PKGS="build-essential cmake pkg-config libevent-dev libjansson-dev libsqlite3-dev \
libsodium-dev libcurl4-openssl-dev libpcre2-dev libcriterion-dev clang curl jq bc"

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "deps.sh: installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
  echo "deps.sh: missing packages:$missing" >&2
  echo "run: sudo apt-get install -y$missing" >&2
  exit 1
fi
