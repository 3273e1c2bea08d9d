using Replicator.Core.Guest;
using Replicator.Core.Testing;
using Replicator.Protocol.Pages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Runs;

/// <summary>Draws a scenario from a seed: wide ranges, so that seeds cover calm and hostile worlds alike.</summary>
internal static class ScenarioDraw
{
    public static Scenario FromSeed(long seed, PlantedBug plant = PlantedBug.None)
    {
        Random r = SeedSplitter.For(seed, "scenario");
        long epochUs = r.Next(4, 40) * 1000L;
        long durationUs = Math.Max(r.Next(150, 500) * 1000L, 12 * epochUs);
        int maxWrite = 512 << r.Next(2, 7); // 2 KiB .. 32 KiB
        long diskBytes = 64L * 1024 << r.Next(0, 3); // 64 .. 256 KiB
        long latency = (long)Math.Pow(10, 1.3 + r.NextDouble() * 2); // 20 µs .. 2 ms
        var network = new NetworkProfile
        {
            Mode = r.NextDouble() < 0.3 ? LinkMode.Datagram : LinkMode.Stream,
            LatencyUs = latency,
            JitterUs = (long)(latency * r.NextDouble() * 2),
            BytesPerUs = Math.Pow(10, 1 + r.NextDouble() * 2.5), // 10 MB/s .. 3 GB/s
            LossRate = r.NextDouble() < 0.5 ? 0 : r.NextDouble() * 0.05,
            DuplicateRate = r.NextDouble() < 0.5 ? 0 : r.NextDouble() * 0.05,
            CorruptionRate = r.NextDouble() < 0.8 ? 0 : r.NextDouble() * 0.002,
        };
        long heartbeat = r.Next(1, 6) * 1000L;
        var scenario = new Scenario
        {
            Seed = seed,
            DurationUs = durationUs,
            EpochUs = epochUs,
            Guest = new SyntheticGuestOptions
            {
                Seed = SeedSplitter.DeriveSeed(seed, "guest"),
                DiskBytes = diskBytes,
                MaxWriteBytes = maxWrite,
                PageSize = 1024,
                RamPages = r.Next(8, 48),
                PagesDirtiedPerRequest = r.Next(0, 3),
                OverlapProbability = r.NextDouble() * 0.5,
                FlushProbability = r.NextDouble() * 0.15,
                FuaProbability = r.NextDouble() * 0.15,
                WriteZeroesProbability = r.NextDouble() * 0.08,
                TrimProbability = r.NextDouble() * 0.08,
                RetainedCheckpoints = 0,
            },
            QueueDepth = r.Next(1, 17),
            ThinkUs = r.Next(10, 400),
            OutputProbability = 0.2,
            SecondaryBufferBytes = (maxWrite + 64L) * r.Next(3, 65),
            MaxUnacknowledgedCheckpoints = r.Next(1, 9),
            CaptureUs = r.Next(10, 500),
            Network = network,
            PrimaryDisk = DrawDisk(r),
            SecondaryDisk = DrawDisk(r),
            JournalDisk = DrawDisk(r),
            HeartbeatUs = heartbeat,
            HeartbeatTimeoutUs = heartbeat * r.Next(4, 11),
            AutoFailover = r.NextDouble() < 0.5,
            Faults = [],
            Plant = plant,
            ReconnectUs = r.Next(1, 21) * 1000L,

            // Drawn apart, so every other draw of a seed stays what it was.
            JournalSwitchAboveBytes = SeedSplitter.For(seed, "journal-compaction").Next(2, 65) * 1024L,
            JournalStagingBytes = 64 << SeedSplitter.For(seed, "journal-staging").Next(0, 11), // 64 B .. 64 KiB
            BlankSecondary = SeedSplitter.For(seed, "blank-secondary").NextDouble() < 0.2,
        };
        Random pages = SeedSplitter.For(seed, "page-encoding");
        scenario = scenario with
        {
            // Caches of a few pages evict all the time; both ends' caches differ, so the smaller one is agreed.
            // Encoded pages need the link's order (TCP's): a link that reorders carries them whole.
            PrimaryPageTerms = new PageTerms(network.Mode == LinkMode.Datagram ? PageEncoding.None : (PageEncoding)pages.Next(0, 3), scenario.Guest.PageSize * (long)pages.Next(0, 2 * scenario.Guest.RamPages)),
            Guest = scenario.Guest with { PageRewriteProbability = pages.NextDouble() < 0.5 ? 0 : pages.NextDouble() },
            SecondaryPageTerms = new PageTerms(pages.NextDouble() < 0.15 ? PageEncoding.None : PageEncoding.ZeroRuns, scenario.Guest.PageSize * (long)pages.Next(0, 2 * scenario.Guest.RamPages)),
        };
        Random writeback = SeedSplitter.For(seed, "writeback");
        scenario = scenario with { SecondaryWritebackBytes = writeback.NextDouble() < 0.2 ? 0 : (maxWrite + 64L) * writeback.Next(1, 65) };
        Random log = SeedSplitter.For(seed, "dirty-log");
        int region = 4096 << log.Next(0, 2);
        scenario = scenario with
        {
            DirtyRegionBytes = region,
            ActivityExtentBytes = region << log.Next(0, 4),
            ActivityLogExtents = log.NextDouble() < 0.1 ? 0 : log.Next(2, 9),
        };
        scenario = scenario with { SyncChecksums = SeedSplitter.For(seed, "sync-checksums").NextDouble() < 0.5 };

        // Not with auto-failover: without a witness a secondary that cannot see its primary may
        // promote while the primary writes alone — the two writers this option warns of.
        Random alone = SeedSplitter.For(seed, "start-without-secondary");
        if (!scenario.AutoFailover && alone.NextDouble() < 0.25)
        {
            scenario = scenario with { StartWithoutSecondary = true, SecondaryStartDelayUs = alone.Next(1, 40) * 1000L };
        }

        Random verify = SeedSplitter.For(seed, "verify");
        if (verify.NextDouble() < 0.3)
        {
            scenario = scenario with
            {
                Verifies = Enumerable.Range(0, verify.Next(1, 3))
                    .Select(_ => ((long)(durationUs * (0.1 + (0.7 * verify.NextDouble()))), verify.NextDouble() < 0.5))
                    .ToList(),
            };
        }

        // Not where the heartbeat timeout is shorter than the link takes to recover one lost packet:
        // such a pair loses every link it makes (the first pair only runs until its secondary
        // promotes), and a failback's sync, with no guest traffic to cover the gaps, never completes.
        Random failBack = SeedSplitter.For(seed, "failback");
        NetworkProfile link = scenario.Network;
        bool linkHolds = scenario.HeartbeatTimeoutUs > 2 * (link.RetransmitTimeoutUs + link.LatencyUs + link.JitterUs);
        if (failBack.NextDouble() < 0.35 && linkHolds)
        {
            scenario = scenario with { FailBack = true, FailBackPowerCutUs = failBack.NextDouble() < 0.5 ? failBack.Next(1, 60) * 1000L : 0 };
        }

        Random switchOver = SeedSplitter.For(seed, "switchover");
        if (switchOver.NextDouble() < 0.25 && linkHolds)
        {
            scenario = scenario with { SwitchOver = true, SwitchOverResetUs = switchOver.NextDouble() < 0.3 ? switchOver.Next(1, 4 * (int)scenario.EpochUs) : 0 };
        }

        // A witness in half the auto-failover seeds: its leases and votes, its links cut, its crashes.
        // Not with a failback or a switchover, whose operator's failover the witness never hears of.
        Random witness = SeedSplitter.For(seed, "witness");
        if (scenario.AutoFailover && witness.NextDouble() < 0.5)
        {
            scenario = scenario with { Witness = true, FailBack = false, FailBackPowerCutUs = 0, SwitchOver = false, SwitchOverResetUs = 0 };
        }

        // Without a witness, auto-failover fences the primary first (the daemon refuses it otherwise).
        Random fence = SeedSplitter.For(seed, "fence");
        if (scenario.AutoFailover && !scenario.Witness)
        {
            scenario = scenario with { FenceUs = fence.Next(1, 4 * (int)scenario.HeartbeatUs), FenceFailureRate = fence.NextDouble() < 0.5 ? 0 : 0.3 };
        }

        IReadOnlyList<Fault> faults = FaultPlanner.Draw(SeedSplitter.For(seed, "faults"), scenario);
        if (scenario.Witness)
        {
            faults = [.. faults, .. FaultPlanner.DrawWitness(SeedSplitter.For(seed, "witness-faults"), scenario)];
            faults = faults.OrderBy(f => f.At).ToList();
        }

        return scenario with { Faults = faults };
    }

    private static DiskProfile DrawDisk(Random r) => new()
    {
        WriteUs = r.Next(2, 200),
        UsPerKiB = r.NextDouble() * 2,
        FlushUs = r.Next(20, 2000),
        JitterUs = r.Next(0, 300),
    };
}
