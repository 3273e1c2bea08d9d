using System.Diagnostics;
using System.Globalization;
using Replicator.Core.Guest;
using Replicator.InMemory;

namespace Replicator.Cli.Commands;

/// <summary>
/// The main job on embedded defaults: the synthetic guest on a primary/secondary pair in one
/// process (the daemons' own hosts, journal and frames under one seeded scheduler), checkpoints
/// throughout, the primary killed at a random step, failover, and a verdict on the invariants. The seed is printed so a run replays exactly.
/// </summary>
internal static class InProcessDemoCommand
{
    public static int Run(int seed, int requests, TextWriter output)
    {
        var options = new InMemoryPairOptions
        {
            Seed = seed,
            SecondaryBufferBytes = 2 << 20,
            CheckpointIntervalSteps = 400,
            QueueDepth = 16,
            Guest = new SyntheticGuestOptions { Seed = seed, DiskBytes = 4 << 20, RamPages = 256, MaxWriteBytes = 64 * 1024 },
        };

        var wall = Stopwatch.StartNew();
        var pair = new InMemoryPair(options);
        pair.IssueRequests(requests);
        long killAt = new Random(seed).NextInt64(requests, requests * 4L);
        pair.RunUntil(() => pair.Steps >= killAt);
        string killedDuring = $"{pair.Primary.Phase}, epoch {pair.Primary.CurrentEpoch}, {pair.Primary.InFlightCount} requests in flight";
        pair.CrashPrimary(deliverInFlight: seed % 2 == 0);
        FailoverOutcome outcome = pair.Failover();
        wall.Stop();

        string? failover = pair.VerifyFailover(outcome);
        bool pass = pair.Violations.Count == 0 && failover is null;
        string F(double v) => v.ToString("N0", CultureInfo.InvariantCulture);

        output.WriteLine("Replicator demo: in-process pair on the daemons' hosts, one seeded scheduler");
        output.WriteLine($"  seed                 {seed}  (replay: replicator demo --in-process --seed {seed} --requests {requests})");
        output.WriteLine($"  guest                {options.Guest.DiskBytes >> 20} MiB disk, {options.Guest.RamPages * options.Guest.PageSize >> 10} KiB RAM, {F(pair.Guest.RequestsIssued)} requests issued");
        output.WriteLine($"  mirrored             {pair.MirroredPayloadBytes / (1024.0 * 1024):F1} MiB of payload");
        output.WriteLine($"  epochs committed     {F(outcome.PrimaryLastAcknowledged)} acknowledged to the primary, {F(pair.Secondary.LastCommittedEpoch)} on the secondary");
        output.WriteLine($"  secondary buffer     peak {pair.Secondary.PeakBufferedBytes >> 10} KiB of {options.SecondaryBufferBytes >> 10} KiB bound");
        output.WriteLine($"  primary killed       at step {F(killAt)} ({killedDuring}); in-flight link data {(seed % 2 == 0 ? "delivered" : "lost")}");
        output.WriteLine($"  failover             landed on checkpoint {outcome.Epoch} (allowed: {outcome.PrimaryLastAcknowledged}..{outcome.PrimaryLastStarted})");
        output.WriteLine($"  I1 commits checked   {(pair.Violations.Any(v => v.StartsWith("I1", StringComparison.Ordinal)) ? "FAILED" : "ok")}");
        output.WriteLine($"  I2 image + VM state  {failover ?? "ok: both equal the guest's own record of that checkpoint"}");
        output.WriteLine($"  I5 output commit     {pair.ReleasedOutputs.Count} outputs released, {(pair.Violations.Any(v => v.StartsWith("I5", StringComparison.Ordinal)) ? "FAILED" : "none before its epoch committed")}");
        output.WriteLine($"  wall time            {wall.Elapsed.TotalMilliseconds:F0} ms for {F(pair.Steps)} events");
        foreach (string violation in pair.Violations.Take(10))
        {
            output.WriteLine($"  violation: {violation}");
        }

        output.WriteLine($"verdict: {(pass ? "PASS" : "FAIL")}");
        return pass ? 0 : 1;
    }
}
