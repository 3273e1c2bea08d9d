using System.Net;
using System.Net.Sockets;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// A started server on 127.0.0.1 and an ephemeral port (or on a Unix socket), with its log and its
/// clock; stopped on dispose. The clock is a fake one that only the test moves, so no timeout
/// (handshake, stop) ever fires in a test that does not advance it, however slow the machine.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(NbdServer server, ListLogger log, TimerWatchingTimeProvider time)
    {
        Server = server;
        Log = log;
        Time = time;
    }

    public NbdServer Server { get; }

    public TimerWatchingTimeProvider Time { get; }

    public ListLogger Log { get; }

    /// <summary>The loopback address and port of a server started on TCP.</summary>
    public IPEndPoint EndPoint => (IPEndPoint)Server.LocalEndPoint;

    /// <summary>nbd://127.0.0.1:PORT/NAME</summary>
    public string Uri(string exportName = "disk") => $"nbd://127.0.0.1:{EndPoint.Port}/{exportName}";

    /// <summary>nbd+unix:///NAME?socket=PATH, for a server started with <see cref="StartOnUnixSocket"/>.</summary>
    public string UnixUri(string exportName = "disk") => $"nbd+unix:///{exportName}?socket={(UnixDomainSocketEndPoint)Server.LocalEndPoint}";

    /// <summary>Where test servers listen: 127.0.0.1 and a port the system picks.</summary>
    public static IPEndPoint AnyLoopbackPort => new(IPAddress.Loopback, 0);

    public static TestServer Start(INbdBackend backend, string exportName = "disk", bool readOnly = false, string? description = null, int maxInFlightRequests = 64)
    {
        var options = new NbdServerOptions
        {
            EndPoint = AnyLoopbackPort,
            ExportName = exportName,
            Description = description,
            ReadOnly = readOnly,
            MaxInFlightRequests = maxInFlightRequests,
        };
        return Start(backend, options);
    }

    /// <summary>A server listening on the Unix socket <paramref name="path"/>, export "disk".</summary>
    public static TestServer StartOnUnixSocket(INbdBackend backend, string path) =>
        Start(backend, new NbdServerOptions { EndPoint = NbdEndPoints.UnixSocket(path), ExportName = "disk" });

    /// <summary>A server with the given options (listening where they say: <see cref="AnyLoopbackPort"/>, or a Unix socket).</summary>
    public static TestServer Start(INbdBackend backend, NbdServerOptions options, System.Diagnostics.Metrics.Meter? meter = null)
    {
        var log = new ListLogger();
        var time = new TimerWatchingTimeProvider();
        var server = new NbdServer(backend, options, log, time, meter);
        server.Start();
        return new TestServer(server, log, time);
    }

    public async ValueTask DisposeAsync() => await Server.StopAsync(Deadline.Token());
}
