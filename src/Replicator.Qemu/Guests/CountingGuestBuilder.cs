using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;

namespace Replicator.Qemu.Guests;

/// <summary>
/// Builds the counting guest from Debian packages: the newest cloud kernel installed
/// (<c>linux-image-cloud-amd64</c>) and an initramfs of a static busybox (<c>busybox-static</c>),
/// the virtio-blk modules of that kernel and <see cref="CountingGuestInit.Script"/>.
/// </summary>
public static class CountingGuestBuilder
{
    /// <summary>Where the tests and the demo keep the guest: built once, rebuilt when the kernel or the init script changes.</summary>
    public static string DefaultDirectory { get; } = Path.Combine(Path.GetTempPath(), "replicator-test-guest");

    private const string StampFile = "guest.stamp";

    /// <summary>
    /// Builds the guest into <paramref name="directory"/> unless it holds this build already
    /// (the same kernel and init script). Safe to call from several processes at once: every file
    /// is written under a unique name and renamed into place.
    /// </summary>
    public static CountingGuestFiles Build(string directory)
    {
        Directory.CreateDirectory(directory);
        string kernel = NewestCloudKernel();
        string version = Path.GetFileName(kernel)["vmlinuz-".Length..];
        string busybox = StaticBusybox();
        string stamp = $"{version} {Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(CountingGuestInit.Script)))[..16]}";
        var files = new CountingGuestFiles(Path.Combine(directory, "vmlinuz"), Path.Combine(directory, "initramfs.cpio.gz"), version);
        string stampPath = Path.Combine(directory, StampFile);
        if (File.Exists(files.Kernel) && File.Exists(files.Initrd) && File.Exists(stampPath) && File.ReadAllText(stampPath) == stamp)
        {
            return files;
        }

        string unique = $".{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        using (FileStream initrd = File.Create(files.Initrd + unique))
        using (var gzip = new GZipStream(initrd, CompressionLevel.Fastest))
        {
            var cpio = new CpioArchive(gzip);
            foreach (string dir in (string[])["bin", "dev", "proc", "sys", "lib", "lib/modules"])
            {
                cpio.AddDirectory(dir);
            }

            cpio.AddFile("bin/busybox", File.ReadAllBytes(busybox), executable: true);
            foreach (string module in CountingGuestInit.Modules)
            {
                cpio.AddFile($"lib/modules/{Path.GetFileName(module)}.ko", ReadModule(Path.Combine("/lib/modules", version, "kernel", module)), executable: false);
            }

            cpio.AddFile("init", Encoding.ASCII.GetBytes(CountingGuestInit.Script.ReplaceLineEndings("\n")), executable: true);
            cpio.Finish();
        }

        File.Copy(kernel, files.Kernel + unique);
        File.WriteAllText(stampPath + unique, stamp);
        File.Move(files.Kernel + unique, files.Kernel, overwrite: true);
        File.Move(files.Initrd + unique, files.Initrd, overwrite: true);
        File.Move(stampPath + unique, stampPath, overwrite: true);
        return files;
    }

    private static string NewestCloudKernel()
    {
        string[] kernels = Directory.Exists("/boot") ? Directory.GetFiles("/boot", "vmlinuz-*-cloud-amd64") : [];
        if (kernels.Length == 0)
        {
            throw new CountingGuestBuildException("no /boot/vmlinuz-*-cloud-amd64: install linux-image-cloud-amd64 (scripts/install-test-deps.sh does)");
        }

        // Its modules must match it exactly; the newest by version, numbers compared as numbers.
        return kernels.OrderBy(k => VersionKey(Path.GetFileName(k)), StringComparer.Ordinal).Last();
    }

    /// <summary>The file name with every run of digits padded to 10 places, so ordinal order is version order.</summary>
    private static string VersionKey(string name) =>
        System.Text.RegularExpressions.Regex.Replace(name, @"\d+", m => m.Value.PadLeft(10, '0'));

    /// <summary>A busybox with no dynamic loader (the initramfs has no C library).</summary>
    private static string StaticBusybox()
    {
        string? busybox = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':')
            .Concat(["/usr/bin", "/bin"]).Select(d => Path.Combine(d, "busybox")).FirstOrDefault(File.Exists);
        if (busybox is null)
        {
            throw new CountingGuestBuildException("no busybox: install busybox-static (scripts/install-test-deps.sh does)");
        }

        if (HasInterpreter(File.ReadAllBytes(busybox)))
        {
            throw new CountingGuestBuildException($"{busybox} is dynamically linked: install busybox-static (scripts/install-test-deps.sh does)");
        }

        return busybox;
    }

    /// <summary>Whether a 64-bit ELF file names a dynamic loader: a PT_INTERP (type 3) program header.</summary>
    private static bool HasInterpreter(byte[] elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2)
        {
            throw new CountingGuestBuildException("busybox is not a 64-bit ELF executable: install busybox-static");
        }

        long offset = BinaryPrimitives.ReadInt64LittleEndian(elf.AsSpan(32));
        int size = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(54));
        int count = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));
        for (int i = 0; i < count; i++)
        {
            long at = offset + ((long)i * size);
            if (at + 4 <= elf.Length && BinaryPrimitives.ReadUInt32LittleEndian(elf.AsSpan((int)at)) == 3)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A module as the kernel loads it: plain, or unpacked from .ko.xz / .ko.zst by the xz or zstd tool.</summary>
    private static byte[] ReadModule(string pathWithoutExtension)
    {
        if (File.Exists(pathWithoutExtension + ".ko"))
        {
            return File.ReadAllBytes(pathWithoutExtension + ".ko");
        }

        foreach ((string extension, string tool, string package) in (ReadOnlySpan<(string, string, string)>)[(".ko.xz", "xz", "xz-utils"), (".ko.zst", "zstd", "zstd")])
        {
            if (File.Exists(pathWithoutExtension + extension))
            {
                return Unpack(tool, package, pathWithoutExtension + extension);
            }
        }

        throw new CountingGuestBuildException($"kernel module {pathWithoutExtension}.ko not found: the cloud kernel's modules must be installed with it");
    }

    private static byte[] Unpack(string tool, string package, string path)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("-dc");
        start.ArgumentList.Add(path);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new CountingGuestBuildException($"{path} needs {tool} to unpack ({e.Message}): install {package}");
        }

        using (process)
        {
            using var data = new MemoryStream();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            process.StandardOutput.BaseStream.CopyTo(data);
            process.WaitForExit();
            return process.ExitCode == 0 ? data.ToArray() : throw new CountingGuestBuildException($"{tool} -dc {path} failed ({process.ExitCode}): {errors.GetAwaiter().GetResult().Trim()}");
        }
    }
}
