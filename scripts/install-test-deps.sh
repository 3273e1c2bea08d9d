#!/usr/bin/env bash
# Installs the outside tools the end-to-end tests drive: the real NBD clients qemu-io (qemu-utils),
# nbdinfo (libnbd-bin) and nbdsh (python3-libnbd), and the cluster resource agents' tester
# ocf-tester (resource-agents, with the ocf-shellfuncs the agent in scripts/ocf sources) and the
# xmllint it checks the agent's meta-data with (libxml2-utils); and for the QEMU adapter's tests,
# QEMU itself (qemu-system-x86) and what `replicator build-guest` builds the counting guest from:
# the cloud kernel (linux-image-cloud-amd64) and a static busybox (busybox-static).
# Idempotent: does nothing when all are present, else runs apt-get update once and installs the
# packages. Needs root (or sudo).
set -euo pipefail

required=(qemu-io nbdsh nbdinfo ocf-tester xmllint qemu-system-x86_64 busybox)
packages=(qemu-utils libnbd-bin python3-libnbd resource-agents libxml2-utils qemu-system-x86 linux-image-cloud-amd64 busybox-static)

# nbdsh is a Python script: look in /usr/bin first so a virtualenv's python does not shadow the
# system one that has the libnbd module.
missing=()
for tool in "${required[@]}"; do
  if ! PATH="/usr/bin:/usr/sbin:$PATH" command -v "$tool" >/dev/null 2>&1; then
    missing+=("$tool")
  fi
done

# The guest's kernel is a file, not a command: a cloud kernel under /boot.
if ! ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1; then
  missing+=("cloud kernel")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps: ${required[*]} already installed; nothing to do"
  exit 0
fi

echo "install-test-deps: missing ${missing[*]}; installing ${packages[*]}"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install-test-deps: not root and no sudo; install ${packages[*]} by hand" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -q
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"

for tool in "${required[@]}"; do
  if ! PATH="/usr/bin:/usr/sbin:$PATH" command -v "$tool" >/dev/null 2>&1; then
    echo "install-test-deps: $tool is still missing after installing ${packages[*]}" >&2
    exit 1
  fi
done
if ! ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1; then
  echo "install-test-deps: no /boot/vmlinuz-*-cloud-amd64 after installing linux-image-cloud-amd64" >&2
  exit 1
fi
echo "install-test-deps: installed ${packages[*]}"
