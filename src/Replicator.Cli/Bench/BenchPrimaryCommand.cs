using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Cli.Diagnostics;
using Replicator.Cli.Commands;
using Replicator.Core.Blocks;
using Replicator.Core.Guest;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;

namespace Replicator.Cli.Bench;

/// <summary>
/// <c>replicator bench-primary</c> (started by <c>bench</c>, not by people): a primary node —
/// replicating to the secondary <c>bench</c> started, or with replication off — driven by the
/// synthetic guest as a load generator. Replicated, it runs the guest at its configured rate and
/// records every checkpoint (the paced run), then as fast as it goes (the closed-loop run);
/// unreplicated, only the closed-loop run; unreplicated-flushed, the same with a flush of the image
/// every epoch interval, the durability a replicated epoch gets (its journal's fdatasync). A warm-up
/// precedes each mode and is not counted. It
/// prints "bench-primary phase NAME" as it goes and writes what it measured to <c>--out</c>.
/// </summary>
internal static class BenchPrimaryCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        Dictionary<string, string> a = DemoArguments.Parse(args);
        bool replicated = a["--mode"] == "replicated";
        bool flushed = a["--mode"] == "unreplicated-flushed";
        int Int(string name) => int.Parse(a[name], CultureInfo.InvariantCulture);
        long ramBytes = long.Parse(a["--ram-kb"], CultureInfo.InvariantCulture) << 10;
        int maxRequest = Int("--max-request-kb") * 1024;
        int queueDepth = Int("--queue-depth");
        (LinkKey? linkKey, bool insecureLink) = DemoArguments.Link(a);
        var options = new PrimaryNodeOptions
        {
            LinkKey = linkKey,
            InsecureLink = insecureLink,
            ImagePath = a["--image"],
            StateDirectory = a["--state-dir"],
            // Unreplicated, the peer is never contacted.
            Peer = replicated ? IPEndPoint.Parse(a["--peer"]) : new IPEndPoint(IPAddress.Loopback, 0),
            Unreplicated = !replicated,
            PairId = "bench",

            // Both images are made as the same file: a sync at the start would only skew the figures.
            SkipInitialSync = replicated,
            EpochInterval = TimeSpan.FromMilliseconds(Int("--epoch-ms")),
            MaxRequestBytes = maxRequest,
            RamBytes = ramBytes,
        };

        var guest = new SyntheticGuestRunner(new SyntheticGuest(new SyntheticGuestOptions
        {
            Seed = Int("--seed"),
            DiskBytes = new FileInfo(options.ImagePath).Length,
            RamPages = (int)(ramBytes / 4096),
            MaxWriteBytes = maxRequest,
            FixedWriteBytes = Int("--write-size"),
            PagesDirtiedPerRequest = double.Parse(a["--pages-per-write"], CultureInfo.InvariantCulture),
            OverlapProbability = 0,
            FlushProbability = 0,
            FuaProbability = 0,
            WriteZeroesProbability = 0,
            TrimProbability = 0,
            RetainedCheckpoints = 0,
            KeepsRecord = false,
        }));

        var recorder = new CheckpointRecorder();
        await using var node = new PrimaryNode(options, guest, NullLogger<PrimaryNode>.Instance, TimeProvider.System);
        node.CheckpointCompleted = recorder.Record;
        await node.StartAsync(CancellationToken.None);
        Console.WriteLine($"bench-primary running ({a["--mode"]})");

        // Bounded: every run ends by itself; this only stops a run that hangs.
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var warmUp = TimeSpan.FromMilliseconds(Int("--warmup-ms"));
        long rate = long.Parse(a["--rate"], CultureInfo.InvariantCulture);
        PacedRun? paced = null;
        if (replicated)
        {
            await PairFormedAsync(node, limit.Token);
            Console.WriteLine("bench-primary phase warm-up");
            await guest.RunForAsync(node, warmUp, queueDepth, rate, limit.Token);
            Console.WriteLine("bench-primary phase paced");
            paced = await PacedAsync(node, guest, recorder, TimeSpan.FromMilliseconds(Int("--paced-ms")), queueDepth, rate, limit.Token);
        }
        else
        {
            Console.WriteLine("bench-primary phase warm-up");
            await guest.RunForAsync(node, warmUp, queueDepth, 0, limit.Token);
        }

        Console.WriteLine("bench-primary phase closed-loop");
        using var flushing = CancellationTokenSource.CreateLinkedTokenSource(limit.Token);
        Task<long> flushes = flushed ? FlushEveryAsync(node, options.EpochInterval, flushing.Token) : Task.FromResult(0L);
        ClosedLoopRun closed = await ClosedLoopAsync(node, guest, recorder, TimeSpan.FromMilliseconds(Int("--closed-ms")), queueDepth, limit.Token);
        await flushing.CancelAsync();
        long flushCount = await flushes;

        await File.WriteAllTextAsync(a["--out"], JsonSerializer.Serialize(new PrimaryRunResult(a["--mode"], paced, closed, flushCount), PrimaryRunResult.Json));
        Console.WriteLine("bench-primary done");
        return 0;
    }

    /// <summary>
    /// Nothing is measured before the pair is formed — the link connected, TLS and the handshake
    /// through, a first checkpoint acknowledged — or a loaded machine measures a primary still connecting.
    /// </summary>
    private static async Task PairFormedAsync(PrimaryNode node, CancellationToken cancellation)
    {
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        bound.CancelAfter(TimeSpan.FromMinutes(1));
        while (node.Status.LastAcknowledgedEpoch == 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), bound.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellation.IsCancellationRequested)
            {
                throw new TimeoutException($"the pair did not form within a minute: {node.Status.Link}");
            }
        }
    }

    private static async Task<PacedRun> PacedAsync(PrimaryNode node, SyntheticGuestRunner guest, CheckpointRecorder recorder, TimeSpan duration, int queueDepth, long rate, CancellationToken cancellation)
    {
        var latency = new LatencyHistogram();
        Window start = Window.Open(node, guest);
        recorder.Start();
        guest.RequestLatency = t => { lock (latency) { latency.Record(t); } };
        await guest.RunForAsync(node, duration, queueDepth, rate, cancellation).ConfigureAwait(false);
        guest.RequestLatency = null;
        recorder.Stop();
        Window end = Window.Open(node, guest);
        var (checkpoints, commit, pause, phases, bufferPeak, _) = recorder.Summary();
        lock (latency)
        {
            return new PacedRun(
                end.Seconds(start), checkpoints, commit, pause, phases,
                end.Bytes - start.Bytes, end.Pages - start.Pages, end.Wire - start.Wire, bufferPeak,
                end.Writes - start.Writes, latency.Summary(), end.Cost.Since(start.Cost));
        }
    }

    /// <summary>
    /// A guest flush every <paramref name="interval"/> until canceled, each waited for (so a slow
    /// fdatasync delays the next one, as a slow journal flush delays the next epoch's commit);
    /// returns how many completed.
    /// </summary>
    private static async Task<long> FlushEveryAsync(PrimaryNode node, TimeSpan interval, CancellationToken cancellation)
    {
        long completed = 0;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false))
            {
                var done = new FlushCompletion();
                node.Submit(BlockRequest.Flush(), default, done);
                if (await done.Task.ConfigureAwait(false) != RequestStatus.Ok)
                {
                    throw new IOException("a flush of the bench image failed");
                }

                completed++;
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The closed loop is over.
        }

        return completed;
    }

    /// <summary>One periodic flush's outcome, heard on the primary's loop and awaited off it.</summary>
    private sealed class FlushCompletion : IGuestRequestCompletion
    {
        private readonly TaskCompletionSource<RequestStatus> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task<RequestStatus> Task => _outcome.Task;

        public void Complete(RequestStatus status) => _outcome.TrySetResult(status);
    }

    private static async Task<ClosedLoopRun> ClosedLoopAsync(PrimaryNode node, SyntheticGuestRunner guest, CheckpointRecorder recorder, TimeSpan duration, int queueDepth, CancellationToken cancellation)
    {
        var latency = new LatencyHistogram();
        Window start = Window.Open(node, guest);
        recorder.Start();
        guest.RequestLatency = t => { lock (latency) { latency.Record(t); } };
        await guest.RunForAsync(node, duration, queueDepth, 0, cancellation).ConfigureAwait(false);
        guest.RequestLatency = null;
        recorder.Stop();
        Window end = Window.Open(node, guest);
        var (checkpoints, commit, pause, _, _, _) = recorder.Summary();
        lock (latency)
        {
            return new ClosedLoopRun(end.Seconds(start), end.Writes - start.Writes, end.Bytes - start.Bytes, latency.Summary(), checkpoints, commit, pause, end.Cost.Since(start.Cost));
        }
    }

    /// <summary>The counters at one edge of a measured run.</summary>
    private sealed record Window(long Timestamp, long Writes, long Bytes, long Pages, long Wire, ProcessCost Cost)
    {
        public static Window Open(PrimaryNode node, SyntheticGuestRunner guest) =>
            new(Stopwatch.GetTimestamp(), guest.RequestsCompleted, guest.BytesCompleted, guest.PagesCaptured, node.LinkBytesSent, ProcessCost.Now());

        public double Seconds(Window start) => Stopwatch.GetElapsedTime(start.Timestamp, Timestamp).TotalSeconds;
    }
}
