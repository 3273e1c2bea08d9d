using System.Globalization;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Cli.Hosting;
using Replicator.Core.Guest;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;

namespace Replicator.Cli.Commands;

/// <summary>
/// <c>replicator demo-primary</c> (started by <c>demo</c>, not by people): a primary node driven
/// by the synthetic guest. As it goes it appends the guest's own record of every captured
/// checkpoint to <c>expected.log</c> and the pause and commit latency of every acknowledged one to
/// <c>timings.log</c>, so the demo can judge the secondary after this process is killed.
/// </summary>
internal static class DemoPrimaryCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        Dictionary<string, string> a = DemoArguments.Parse(args);
        int seed = int.Parse(a["--seed"], CultureInfo.InvariantCulture);
        long ramBytes = long.Parse(a["--ram-kb"], CultureInfo.InvariantCulture) << 10;
        string output = a["--out"];
        (LinkKey? linkKey, bool insecureLink) = DemoArguments.Link(a);
        var options = new PrimaryNodeOptions
        {
            LinkKey = linkKey,
            InsecureLink = insecureLink,
            ImagePath = a["--image"],
            StateDirectory = a["--state-dir"],
            Peer = IPEndPoint.Parse(a["--peer"]),
            PairId = "demo",

            // The demo writes both images with the same bytes: nothing to copy at the start.
            SkipInitialSync = true,
            EpochInterval = TimeSpan.FromMilliseconds(int.Parse(a["--epoch-ms"], CultureInfo.InvariantCulture)),
            MaxRequestBytes = DemoArguments.MaxRequestBytes,
            RamBytes = ramBytes,
        };

        long diskBytes = new FileInfo(options.ImagePath).Length;
        var guest = new SyntheticGuestRunner(new SyntheticGuest(new SyntheticGuestOptions
        {
            Seed = seed,
            DiskBytes = diskBytes,
            RamPages = (int)(ramBytes / 4096),
            MaxWriteBytes = DemoArguments.MaxRequestBytes,
            PagesDirtiedPerRequest = 4,
            RetainedCheckpoints = 0,
        }, File.ReadAllBytes(options.ImagePath)));

        await using var expected = new StreamWriter(Path.Combine(output, "expected.log")) { AutoFlush = true };
        await using var timings = new StreamWriter(Path.Combine(output, "timings.log")) { AutoFlush = true };
        guest.Captured = c => expected.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Epoch} {c.DiskHash:x16} {c.RamHash:x16} {Convert.ToHexString(c.CpuState)}"));

        // Served from before the node starts, so the demo's first scrape finds the endpoint up.
        using OpenTelemetry.Metrics.MeterProvider? metrics = a.TryGetValue("--metrics", out string? metricsAt) ? MetricsEndpoint.Serve(IPEndPoint.Parse(metricsAt)) : null;
        await using var node = new PrimaryNode(options, guest, NullLogger<PrimaryNode>.Instance, TimeProvider.System);
        node.CheckpointCompleted = t => timings.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{t.Epoch} {t.Pause.TotalMicroseconds:F0} {t.Commit.TotalMicroseconds:F0}"));
        await node.StartAsync(CancellationToken.None);
        Console.WriteLine("demo-primary running");

        // Bounded: the demo kills this process long before; alone, it stops by itself.
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await guest.RunAsync(node, 10_000_000, queueDepth: 8, limit.Token);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
