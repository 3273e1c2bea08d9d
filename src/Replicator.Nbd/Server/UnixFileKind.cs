namespace Replicator.Nbd.Server;

/// <summary>What a path names, as the file-type bits of its mode (S_IFMT) say; a symbolic link is itself, not its target.</summary>
internal enum UnixFileKind
{
    Socket,
    SymbolicLink,
    RegularFile,
    BlockDevice,
    Directory,
    CharacterDevice,
    Fifo,
    Unknown,
}
