using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Replicator.Runtime.Storage;

/// <summary>
/// The durability calls the runtime needs and .NET does not offer directly: fdatasync of a file
/// (the core's "flush": data and the metadata needed to read it, without timestamps), fsync of a
/// directory (so a rename that replaced a state file survives a power cut), and starting a range's
/// write-out ahead of a flush.
/// </summary>
internal static partial class Durability
{
    private const int ReadOnlyDirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux
    private const int SyncFileRangeWrite = 2; // SYNC_FILE_RANGE_WRITE: start writing dirty pages, wait for nothing
    private const int InvalidArgument = 22;
    private const int IllegalSeek = 29;
    private const int NotImplemented = 38;
    private const int NotSupported = 95;

    public static void DataSync(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux())
        {
            RandomAccess.FlushToDisk(file);
            return;
        }

        if (FDataSync(file) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"fdatasync failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}); the data written since the last flush is in an unknown state");
        }
    }

    /// <summary>
    /// Starts writing the range's dirty pages out without waiting for them (sync_file_range with
    /// SYNC_FILE_RANGE_WRITE). A hint: false only when this kernel or file cannot take it (ENOSYS,
    /// EINVAL, ESPIPE, EOPNOTSUPP, or not Linux), so the caller stops asking; any other failure (EIO)
    /// is the next fdatasync's to report, as it reports every failed write-out.
    /// </summary>
    public static bool StartWriteOut(SafeFileHandle file, long offset, long length)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        return SyncFileRange(file, offset, length, SyncFileRangeWrite) == 0
            || Marshal.GetLastPInvokeError() is not (InvalidArgument or IllegalSeek or NotImplemented or NotSupported);
    }

    public static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        int fd = Open(directory, ReadOnlyDirectory);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"cannot open directory {directory} to sync it: {Marshal.GetPInvokeErrorMessage(errno)}");
        }

        try
        {
            if (FSync(fd) != 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new IOException($"fsync of directory {directory} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>Replaces <paramref name="path"/> with <paramref name="contents"/> so that after a crash it holds the old or the new contents, never a mix.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> contents)
    {
        string temporary = path + ".tmp";
        using (SafeFileHandle handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(handle, contents, 0);
            DataSync(handle);
        }

        File.Move(temporary, path, overwrite: true);
        SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(SafeFileHandle fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    private static partial int SyncFileRange(SafeFileHandle fd, long offset, long length, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
