namespace Replicator.Qemu.Guests;

/// <summary>The counting guest's <c>/init</c>: a busybox shell script.</summary>
internal static class CountingGuestInit
{
    /// <summary>The kernel modules virtio-blk needs in the cloud kernel, in the order they load (paths under the kernel's module tree).</summary>
    public static readonly string[] Modules =
    [
        "drivers/virtio/virtio_ring", "drivers/virtio/virtio", "drivers/virtio/virtio_pci_legacy_dev",
        "drivers/virtio/virtio_pci_modern_dev", "drivers/virtio/virtio_pci", "drivers/block/virtio_blk",
    ];

    /// <summary>
    /// The counter lives in the shell's memory only, so after a restore it can only come from the
    /// RAM image. Each value goes to the disk (O_DIRECT, fsync) before it is printed, so the disk
    /// always holds every printed value. With <see cref="CountingGuest.HeavyWritesOption"/> on the
    /// kernel command line a second loop also writes random megabytes beyond the records as fast as
    /// the disk takes them.
    /// </summary>
    public const string Script = """
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
        if grep -q 'replicator.heavy_writes=1' /proc/cmdline; then
          (
            pass=0
            while :; do
              pass=$((pass + 1))
              dd if=/dev/urandom of=/dev/vda bs=1M seek=1 count=8 conv=notrunc oflag=direct 2>/dev/null || echo "heavy pass $pass failed"
              echo "heavy pass $pass"
            done
          ) &
        fi
        n=0
        while :; do
          n=$((n + 1))
          printf 'seq %012d\n' "$n" | dd of=/dev/vda bs=512 seek=$((n % 1024)) conv=sync,notrunc,fsync oflag=direct 2>/dev/null \
            || echo "write of $n failed"
          echo "counter $n"
        done

        """;
}
