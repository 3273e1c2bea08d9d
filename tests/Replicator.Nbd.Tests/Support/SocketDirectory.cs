using System.Net.Sockets;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// A fresh directory under the temp directory for a test's socket files (a short path, well
/// inside the 107 bytes a socket path may have), deleted with everything in it on dispose.
/// </summary>
internal sealed class SocketDirectory : IDisposable
{
    public string Location { get; } = Directory.CreateTempSubdirectory("nbd-").FullName;

    public string PathOf(string name) => Path.Combine(Location, name);

    /// <summary>
    /// A socket file at <paramref name="path"/> that nobody listens on, as a server that crashed
    /// leaves it. A .NET socket deletes the file it bound when disposed, so the socket is bound
    /// under another name and the file renamed into place first: what the dispose deletes is gone.
    /// </summary>
    public static void CreateStaleSocket(string path)
    {
        string binding = path + ".binding";
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(binding));
        File.Move(binding, path);
    }

    public void Dispose() => Directory.Delete(Location, recursive: true);
}
