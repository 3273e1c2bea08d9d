using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Replicator.Runtime.Control;

/// <summary>Who is on the other end of a control connection (SO_PEERCRED), and whether that user may drive this daemon.</summary>
internal static class ControlPeer
{
    private const int SolSocket = 1;
    private const int SoPeerCred = 17;

    private static readonly Lazy<uint?> OwnUid = new(ReadOwnUid);

    /// <summary>Null when the peer is this daemon's user or root; otherwise why it is refused. Outside Linux, the socket's mode alone guards it.</summary>
    public static string? RefusalFor(Socket client)
    {
        if (!OperatingSystem.IsLinux() || OwnUid.Value is not uint own)
        {
            return null;
        }

        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
        Span<byte> credentials = stackalloc byte[12];
        int length = client.GetRawSocketOption(SolSocket, SoPeerCred, credentials);
        if (length < 8)
        {
            return "permission denied: the peer's credentials could not be read";
        }

        uint peer = MemoryMarshal.Read<uint>(credentials[4..]); // native byte order, as the kernel wrote it
        return IsAllowed(peer, own) ? null : $"permission denied: uid {peer} is neither this daemon's user (uid {own}) nor root";
    }

    /// <summary>The daemon's own user, and root, may drive it; no one else.</summary>
    public static bool IsAllowed(uint peerUid, uint ownUid) => peerUid == 0 || peerUid == ownUid;

    /// <summary>The effective uid, from /proc/self/status ("Uid: real effective saved fs").</summary>
    private static uint? ReadOwnUid()
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("Uid:", StringComparison.Ordinal))
            {
                string[] ids = line["Uid:".Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return ids.Length > 1 && uint.TryParse(ids[1], NumberStyles.None, CultureInfo.InvariantCulture, out uint uid) ? uid : null;
            }
        }

        return null;
    }
}
