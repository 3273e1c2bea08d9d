using System.Runtime.InteropServices;

namespace Replicator.Nbd.Server;

/// <summary>
/// A path's file type and identity, without following a symbolic link and without opening it
/// (opening a FIFO would block). .NET says neither whether a file is a socket nor which file it is,
/// so this asks the kernel directly with statx (glibc 2.28 or later). The identity is the device,
/// the inode and the birth time: a file created where one was just deleted often gets the same
/// inode number, but not the birth time of the file it replaced (0 on a filesystem that keeps none).
/// </summary>
internal readonly partial record struct UnixFileStatus(UnixFileKind Kind, ulong Device, ulong Inode, long BornNanoseconds)
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private const uint StatxBirthTime = 0x800;
    private const int NoSuchFile = 2; // ENOENT
    private const int NotADirectory = 20; // ENOTDIR: a component of the path is a file

    /// <summary>
    /// The status of <paramref name="path"/> (relative to the working directory when relative);
    /// null when nothing is there. Throws <see cref="IOException"/> when the kernel cannot say.
    /// </summary>
    public static unsafe UnixFileStatus? Of(string path)
    {
        // struct statx is 256 bytes, laid out alike on every architecture, in native byte order.
        byte* buffer = stackalloc byte[256];
        if (Statx(AtFdCwd, path, AtSymlinkNoFollow, StatxType | StatxIno | StatxBirthTime, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            return errno is NoSuchFile or NotADirectory
                ? null
                : throw new IOException($"cannot tell what {path} is: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }

        var statx = new ReadOnlySpan<byte>(buffer, 256);
        uint filled = MemoryMarshal.Read<uint>(statx); // stx_mask: what the filesystem could say
        ushort mode = MemoryMarshal.Read<ushort>(statx[28..]);
        ulong inode = MemoryMarshal.Read<ulong>(statx[32..]);
        long bornNanoseconds = (filled & StatxBirthTime) == 0 ? 0 : (MemoryMarshal.Read<long>(statx[80..]) * 1_000_000_000) + MemoryMarshal.Read<uint>(statx[88..]);
        uint deviceMajor = MemoryMarshal.Read<uint>(statx[136..]);
        uint deviceMinor = MemoryMarshal.Read<uint>(statx[140..]);
        return new UnixFileStatus(KindOf(mode), ((ulong)deviceMajor << 32) | deviceMinor, inode, bornNanoseconds);
    }

    private static UnixFileKind KindOf(ushort mode) => (mode & 0xF000) switch
    {
        0xC000 => UnixFileKind.Socket,
        0xA000 => UnixFileKind.SymbolicLink,
        0x8000 => UnixFileKind.RegularFile,
        0x6000 => UnixFileKind.BlockDevice,
        0x4000 => UnixFileKind.Directory,
        0x2000 => UnixFileKind.CharacterDevice,
        0x1000 => UnixFileKind.Fifo,
        _ => UnixFileKind.Unknown,
    };

    // int statx(int dirfd, const char *pathname, int flags, unsigned int mask, struct statx *statxbuf);
    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirFd, string path, int flags, uint mask, byte* buffer);
}
