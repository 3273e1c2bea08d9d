using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Replicator.Nbd.Protocol;

namespace Replicator.Runtime.Storage;

/// <summary>
/// What the file system knows about a file's blocks, and what it can do without writing them:
/// which ranges are holes (SEEK_DATA / SEEK_HOLE), zeroing a range by marking it (fallocate with
/// FALLOC_FL_ZERO_RANGE), and reading ahead (posix_fadvise WILLNEED). Linux calls; each says what
/// it does where the file system cannot.
/// </summary>
internal static partial class FileAllocation
{
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int FallocKeepSize = 0x01;
    private const int FallocZeroRange = 0x10;
    private const int AdviseWillNeed = 3;
    private const int NoSuchDeviceOrAddress = 6; // ENXIO: no data at or after the offset
    private const int InvalidArgument = 22;
    private const int NotImplemented = 38;
    private const int NotSupported = 95;

    /// <summary>
    /// Zeroes the range without writing it (the file system marks the blocks as reading zero).
    /// False when the file system cannot (then nothing changed); an I/O error throws. The range
    /// must lie inside the file: KEEP_SIZE never changes its length.
    /// </summary>
    public static bool TryZeroRange(SafeFileHandle file, long offset, long length, string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        if (Fallocate(file, FallocZeroRange | FallocKeepSize, offset, length) == 0)
        {
            return true;
        }

        int error = Marshal.GetLastPInvokeError();
        return error is NotSupported or NotImplemented or InvalidArgument
            ? false
            : throw new IOException($"zeroing {offset}+{length} of {path} failed: {Marshal.GetPInvokeErrorMessage(error)}");
    }

    /// <summary>
    /// Fills <paramref name="extents"/> with the data and hole extents of <paramref name="offset"/>..+<paramref name="length"/>
    /// (which lies inside a file of <paramref name="fileSize"/> bytes); returns how many, at least
    /// one. A hole reads as zeroes. Where the file system cannot tell, the range is one data extent.
    /// </summary>
    public static int Describe(SafeFileHandle file, long offset, long length, long fileSize, Span<NbdExtent> extents)
    {
        long end = offset + length;
        if (!OperatingSystem.IsLinux())
        {
            extents[0] = new NbdExtent(length, NbdExtentState.Data);
            return 1;
        }

        int count = 0;
        long at = offset;
        while (at < end && count < extents.Length)
        {
            long data = Seek(file, at, SeekData, fileSize);
            if (data < 0)
            {
                // The file system does not know its holes: everything it holds is data.
                extents[count++] = new NbdExtent(end - at, NbdExtentState.Data);
                return count;
            }

            if (data > at)
            {
                long holeEnd = Math.Min(data, end);
                extents[count++] = new NbdExtent(holeEnd - at, NbdExtentState.Hole | NbdExtentState.Zero);
                at = holeEnd;
                continue;
            }

            // Data starts here; it runs to the next hole (the file's end is one), or to the range's
            // end if the file system cannot say.
            long hole = Seek(file, at, SeekHole, fileSize);
            long dataEnd = hole > at ? Math.Min(hole, end) : end;
            extents[count++] = new NbdExtent(dataEnd - at, NbdExtentState.Data);
            at = dataEnd;
        }

        return count;
    }

    /// <summary>Asks the kernel to read the range ahead into the page cache; only a hint, so a refusal is not an error.</summary>
    public static void WillNeed(SafeFileHandle file, long offset, long length)
    {
        if (OperatingSystem.IsLinux())
        {
            _ = Advise(file, offset, length, AdviseWillNeed);
        }
    }

    /// <summary>
    /// lseek with SEEK_DATA or SEEK_HOLE. No data at or after the offset (ENXIO) is the file's end;
    /// a file system that cannot answer gives -1.
    /// </summary>
    private static long Seek(SafeFileHandle file, long offset, int whence, long fileSize)
    {
        long found = LSeek(file, offset, whence);
        if (found >= 0)
        {
            return found;
        }

        return Marshal.GetLastPInvokeError() == NoSuchDeviceOrAddress ? fileSize : -1;
    }

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int Advise(SafeFileHandle fd, long offset, long length, int advice);
}
