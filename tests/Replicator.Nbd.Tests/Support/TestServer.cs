using System.Net;

namespace Replicator.Nbd.Tests.Support;

/// <summary>A started server on 127.0.0.1 and an ephemeral port, with its log; stopped on dispose.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private TestServer(NbdServer server, ListLogger log)
    {
        Server = server;
        Log = log;
    }

    public NbdServer Server { get; }

    public ListLogger Log { get; }

    public IPEndPoint EndPoint => Server.LocalEndPoint;

    /// <summary>nbd://127.0.0.1:PORT/NAME</summary>
    public string Uri(string exportName = "disk") => $"nbd://127.0.0.1:{EndPoint.Port}/{exportName}";

    public static TestServer Start(INbdBackend backend, string exportName = "disk", bool readOnly = false, string? description = null, int maxInFlightRequests = 64)
    {
        var log = new ListLogger();
        var options = new NbdServerOptions
        {
            EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            ExportName = exportName,
            Description = description,
            ReadOnly = readOnly,
            MaxInFlightRequests = maxInFlightRequests,
        };
        var server = new NbdServer(backend, options, log);
        server.Start();
        return new TestServer(server, log);
    }

    public async ValueTask DisposeAsync() => await Server.StopAsync(Deadline.Token());
}
