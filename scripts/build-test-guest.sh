#!/usr/bin/env bash
# Builds the tiny verifiable guest the QEMU adapter's tests boot: the Debian cloud kernel and a
# busybox initramfs whose init counts in memory (a shell variable), writes each value with its
# sequence number to its disk, synchronously, at sector (value mod 1024), and prints it on the
# serial console as "counter N". A checkpoint of RAM, device state and disk taken at one instant
# can therefore be checked after a restore: the counter must go on from where that instant left it.
#
# Usage: scripts/build-test-guest.sh OUT_DIR
# Writes OUT_DIR/vmlinuz and OUT_DIR/initramfs.cpio.gz. Needs linux-image-cloud-amd64,
# busybox-static and cpio (scripts/install-test-deps.sh installs them). Idempotent: rebuilds only
# when the kernel or this script is newer than what OUT_DIR holds.
set -euo pipefail

out=${1:?usage: build-test-guest.sh OUT_DIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The newest cloud kernel installed; its modules must match it exactly.
kernel=$(ls -1 /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$kernel" ]; then
  echo "build-test-guest: no /boot/vmlinuz-*-cloud-amd64; install linux-image-cloud-amd64" >&2
  exit 1
fi
version=${kernel#/boot/vmlinuz-}
modules=/lib/modules/$version
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || [ ! -x "$busybox" ]; then
  echo "build-test-guest: no busybox; install busybox-static" >&2
  exit 1
fi
# The initramfs has no C library: busybox must be static, i.e. have no PT_INTERP (type 3) program
# header naming a dynamic loader. Read the 64-bit ELF header: e_phoff at 32, e_phentsize at 54,
# e_phnum at 56; each header starts with its 4-byte type.
has_interpreter() {
  local phoff entsize count i type
  phoff=$(od -An -t u8 -j 32 -N 8 "$1" | tr -d ' ')
  entsize=$(od -An -t u2 -j 54 -N 2 "$1" | tr -d ' ')
  count=$(od -An -t u2 -j 56 -N 2 "$1" | tr -d ' ')
  for ((i = 0; i < count; i++)); do
    type=$(od -An -t u4 -j $((phoff + i * entsize)) -N 4 "$1" | tr -d ' ')
    [ "$type" = 3 ] && return 0
  done
  return 1
}
if has_interpreter "$busybox"; then
  echo "build-test-guest: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi
command -v cpio >/dev/null || { echo "build-test-guest: no cpio; install cpio" >&2; exit 1; }

script=$(readlink -f "$0")
if [ -s "$out/initramfs.cpio.gz" ] && [ -s "$out/vmlinuz" ] \
   && [ "$out/initramfs.cpio.gz" -nt "$kernel" ] && [ "$out/initramfs.cpio.gz" -nt "$script" ]; then
  echo "build-test-guest: $out is up to date"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}
cp "$busybox" "$root/bin/busybox"

# virtio-blk is a module in the cloud kernel: load it and what it needs, in dependency order.
for module in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
              drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk; do
  found=$(ls "$modules/kernel/$module".ko* 2>/dev/null | head -n 1 || true)
  if [ -z "$found" ]; then
    echo "build-test-guest: $module not found under $modules" >&2
    exit 1
  fi
  case "$found" in
    *.ko) cp "$found" "$root/lib/modules/" ;;
    *.ko.xz) xz -dc "$found" > "$root/lib/modules/$(basename "$found" .xz)" ;;
    *.ko.zst) zstd -qdc "$found" > "$root/lib/modules/$(basename "$found" .zst)" ;;
    *) echo "build-test-guest: cannot unpack $found" >&2; exit 1 ;;
  esac
done

cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t devtmpfs devtmpfs /dev
mount -t proc proc /proc
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  insmod /lib/modules/$m.ko
done
# The disk shows up asynchronously after the driver binds.
while [ ! -b /dev/vda ]; do sleep 0.1; done
echo "guest ready"
# The counter lives in this shell's memory only: after a restore it can only come from the RAM
# image. Each value goes to disk (O_DIRECT, fsync) before it is printed, so the disk always holds
# every printed value.
n=0
while :; do
  n=$((n + 1))
  printf 'seq %012d\n' "$n" | dd of=/dev/vda bs=512 seek=$((n % 1024)) conv=sync,notrunc,fsync oflag=direct 2>/dev/null \
    || echo "write of $n failed"
  echo "counter $n"
done
INIT
chmod +x "$root/init"

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) > "$out/initramfs.cpio.gz.tmp"
cp "$kernel" "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "build-test-guest: built $out/vmlinuz and $out/initramfs.cpio.gz from kernel $version"
