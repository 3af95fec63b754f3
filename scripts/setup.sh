#!/usr/bin/env bash
# Installs what Skiff needs on Debian and its npm dependencies. Safe to run twice:
# it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (Skiff creates namespaces and cgroups)" >&2
    exit 1
  fi
}

# Debian packages: the container runtime and its supervisor, networking tools,
# a local registry for the demo and tests, a static busybox to build images
# from, the AWS CLI to drive Skiff like ECS, attr for the overlay xattrs of
# unpacked image layers, tini (the init of initProcessEnabled), openssl (the
# self-signed certificate of --tls), gcc for the hardening tests' probes,
# chromium for the dashboard's browser tests, and bindfs (EFS access points'
# POSIX user, src/efs/efs-volumes.ts).
PACKAGES=(runc runsc conmon iproute2 nftables docker-registry busybox-static awscli curl attr tini openssl gcc libc6-dev chromium bindfs)
# The microvm driver: QEMU's microvm machine (virtiofsd comes with it, in
# qemu-system-common) and a guest kernel with virtio-mmio and virtio-fs modules
# (Debian's cloud kernel; only booted inside the VMs, never on the host).
PACKAGES+=(qemu-system-x86 linux-image-cloud-amd64)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  need_root
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian registry package enables a system service on :5000; Skiff's demo and
# tests start their own registry on loopback, so leave the system one alone.

# PostgreSQL 15 for `skiff server --database` and the store's tests, which run
# initdb/pg_ctl in a temp dir (test/support/postgres.ts); the package's own
# cluster (:5432) is left as Debian sets it up.
if ! dpkg-query -W -f='${Status}' postgresql-15 2>/dev/null | grep -q "install ok installed"; then
  need_root
  echo "setup: installing postgresql-15"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-15 >/dev/null
fi

# One session keyring per running container, all owned by the user namespace's
# root uid: the kernel's default quota (200 keys) caps a host at ~200 tasks.
# Security groups filter traffic between tasks of one bridge in the inet hooks,
# which bridged packets reach only through br_netfilter.
if ! grep -q bridge-nf-call-iptables /etc/sysctl.d/60-skiff.conf 2>/dev/null; then
  need_root
  printf 'kernel.keys.maxkeys = 20000\nkernel.keys.maxbytes = 2000000\nnet.bridge.bridge-nf-call-iptables = 1\n' > /etc/sysctl.d/60-skiff.conf
  [ -d /proc/sys/net/bridge ] || modprobe br_netfilter 2>/dev/null || true
  sysctl -q -p /etc/sysctl.d/60-skiff.conf || true
fi
if [ -d /etc/modules-load.d ] && [ ! -f /etc/modules-load.d/skiff.conf ]; then
  need_root
  echo br_netfilter > /etc/modules-load.d/skiff.conf
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi
# The compiled JavaScript `skiff` runs (dist/): rebuilt only when src/ changed
# since the last build. bin/skiff.js never runs a stale dist/ (it runs the
# sources through tsx instead), so this is for speed, not correctness.
node packaging/build.mjs --if-stale
echo "setup: ready"
