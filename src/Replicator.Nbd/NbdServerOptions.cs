using System.Net;
using System.Net.Sockets;

namespace Replicator.Nbd;

/// <summary>How an <see cref="NbdServer"/> listens, what it calls its one export, and what it may hold.</summary>
/// <remarks>
/// Every resource a client can make the server hold is bounded here: connections, the time one may
/// take to negotiate, the bytes of requests read but not yet answered (per connection and in all),
/// and the time a stop waits for clients. The defaults suit one or a few real clients (a VM, qemu-img,
/// nbdcopy) and keep a misbehaving or hostile one from taking the daemon down.
/// </remarks>
public sealed class NbdServerOptions
{
    /// <summary>
    /// Where to listen: an <see cref="IPEndPoint"/> (TCP; port 0 picks a free port, see
    /// <see cref="NbdServer.LocalEndPoint"/>) or a <see cref="UnixDomainSocketEndPoint"/> with a
    /// path (<see cref="NbdEndPoints.UnixSocket"/>; the server makes the file owner-only and removes
    /// it on stop). Anything else makes the <see cref="NbdServer"/> constructor throw. Default:
    /// loopback, the IANA NBD port 10809.
    /// </summary>
    public EndPoint EndPoint { get; init; } = new IPEndPoint(IPAddress.Loopback, 10809);

    /// <summary>The export's name. Clients may also ask for the default (empty) name and get this export.</summary>
    public string ExportName { get; init; } = "";

    /// <summary>Shown by NBD_OPT_LIST and NBD_INFO_DESCRIPTION; none when null.</summary>
    public string? Description { get; init; }

    /// <summary>Export read-only even when the backend takes writes.</summary>
    public bool ReadOnly { get; init; }

    /// <summary>
    /// The longest read or write a client may send, advertised as the maximum block size. Default
    /// 32 MiB: the protocol asks servers to take 32 MiB from clients that cannot learn the limit.
    /// Requests longer than the backend's own <see cref="INbdBackend.MaxRequestBytes"/> are split
    /// into backend calls. A multiple of 512, at least 4 KiB, at most 1 GiB.
    /// </summary>
    public int MaxPayloadBytes { get; init; } = DefaultMaxPayloadBytes;

    /// <summary>The default <see cref="MaxPayloadBytes"/>: 32 MiB.</summary>
    public const int DefaultMaxPayloadBytes = 32 << 20;

    /// <summary>The largest <see cref="MaxPayloadBytes"/> (and backend call) allowed, 1 GiB: a read's reply, header and data, must fit one array.</summary>
    public const int MaxPayloadLimit = 1 << 30;

    /// <summary>Requests one connection may have in flight before the server stops reading from it. Default 64.</summary>
    public int MaxInFlightRequests { get; init; } = 64;

    /// <summary>
    /// Payload bytes (read and write buffers) one connection may hold before the server stops reading
    /// from it. A single request larger than this still runs, alone. Default 64 MiB.
    /// </summary>
    public long MaxInFlightBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Connections open at once, in the handshake or in transmission. One more is closed as soon as it
    /// is accepted, before the greeting, and logged (at most once per 10 s, with how many more were
    /// closed since). Default 64.
    /// </summary>
    public int MaxConnections { get; init; } = 64;

    /// <summary>
    /// Payload bytes of requests read but not yet answered, across every connection: write data not
    /// yet written, read data not yet sent. When a request would go past it, the server stops reading
    /// requests (TCP then pushes back on the clients) until replies free enough. A reply a client does
    /// not read keeps its bytes, so clients that send and never read cannot grow the server's memory
    /// past this. A connection with nothing else in flight may always have one request, past this if
    /// need be, so a client that reads its replies is never starved by clients that do not: the bound
    /// holds to within one request per connection. Default 256 MiB.
    /// </summary>
    public long MaxTotalInFlightBytes { get; init; } = 256L << 20;

    /// <summary>
    /// How long a client has from the moment it is accepted to the end of the handshake (NBD_OPT_GO,
    /// NBD_OPT_EXPORT_NAME or NBD_OPT_ABORT). One that takes longer is closed and logged. Default 10 s.
    /// </summary>
    public TimeSpan NegotiationTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long <see cref="NbdServer.StopAsync"/> lets connections finish the requests they already
    /// received and deliver the replies; connections still busy then (a client that stopped reading,
    /// or died without the server hearing of it) are closed and their replies dropped. Default 3 s,
    /// which leaves a daemon's last checkpoint time inside its 10 s shutdown.
    /// </summary>
    public TimeSpan StopTimeout { get; init; } = TimeSpan.FromSeconds(3);
}
