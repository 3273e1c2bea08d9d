using System.Globalization;

namespace Replicator.Cli.Bench;

/// <summary>
/// One point of the sweep: the epoch interval, how much disk data and RAM the guest dirties per
/// epoch (at a steady rate), and the size of its writes.
/// </summary>
internal sealed record BenchConfiguration(int EpochMs, long DirtyDiskBytes, long DirtyRamBytes, int WriteSize)
{
    private const int KiB = 1024, MiB = 1024 * 1024;

    /// <summary>The guest's RAM: four times what it dirties per epoch (so each epoch dirties distinct pages), 4..64 MiB.</summary>
    public long RamBytes => Math.Clamp(4 * DirtyRamBytes, 4L * MiB, 64L * MiB);

    /// <summary>The disk data rate that dirties <see cref="DirtyDiskBytes"/> per epoch.</summary>
    public long BytesPerSecond => DirtyDiskBytes * 1000 / EpochMs;

    /// <summary>RAM pages the guest dirties per write, so that an epoch of writes dirties <see cref="DirtyRamBytes"/>.</summary>
    public double PagesPerWrite => DirtyRamBytes / 4096.0 / Math.Max(1.0, (double)DirtyDiskBytes / WriteSize);

    /// <summary>Run the link plain (<c>--insecure-link</c>) instead of TLS with the pair key: the twin that shows what the link's protection costs.</summary>
    public bool PlainLink { get; init; }

    public string Name => string.Create(CultureInfo.InvariantCulture, $"{EpochMs} ms, {Size(DirtyDiskBytes)} disk + {Size(DirtyRamBytes)} RAM per epoch, {Size(WriteSize)} writes{(PlainLink ? ", plain link" : "")}");

    /// <summary>
    /// The full sweep, pruned from the 3 × 3 × n × n grid to the points that answer a question:
    /// epoch interval × dirty disk data (the main grid, RAM and write size held at 1 MiB and 64 KiB);
    /// dirty RAM 4 and 16 MiB at 25 ms and 1 MiB of disk, plus 4 MiB at 10 ms (the pause target);
    /// write sizes 4 KiB and 1 MiB at 25 ms and 1 MiB of disk; and the heaviest 25 ms point with the
    /// link plain, against its TLS twin in the main grid.
    /// </summary>
    public static IReadOnlyList<BenchConfiguration> Full()
    {
        var sweep = new List<BenchConfiguration>();
        foreach (int epoch in new[] { 10, 25, 100 })
        {
            foreach (long disk in new long[] { 64 * KiB, 1 * MiB, 16 * MiB })
            {
                sweep.Add(new BenchConfiguration(epoch, disk, 1 * MiB, 64 * KiB));
            }
        }

        sweep.Add(new BenchConfiguration(25, 1 * MiB, 4 * MiB, 64 * KiB));
        sweep.Add(new BenchConfiguration(25, 1 * MiB, 16 * MiB, 64 * KiB));
        sweep.Add(new BenchConfiguration(10, 1 * MiB, 4 * MiB, 64 * KiB));
        sweep.Add(new BenchConfiguration(25, 1 * MiB, 1 * MiB, 4 * KiB));
        sweep.Add(new BenchConfiguration(25, 1 * MiB, 1 * MiB, 1 * MiB));

        // The link's cost: the 25 ms, 16 MiB point of the main grid again without TLS.
        sweep.Add(new BenchConfiguration(25, 16 * MiB, 1 * MiB, 64 * KiB) { PlainLink = true });
        return sweep;
    }

    /// <summary>The quick sweep: one point per epoch interval and per dirty-data size, including the pause target's.</summary>
    public static IReadOnlyList<BenchConfiguration> Quick() =>
    [
        new(10, 1 * MiB, 4 * MiB, 64 * KiB),
        new(25, 64 * KiB, 256 * KiB, 4 * KiB),
        new(100, 16 * MiB, 1 * MiB, 1 * MiB),
    ];

    public static string Size(long bytes) => bytes switch
    {
        >= MiB when bytes % MiB == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes / MiB} MiB"),
        >= KiB when bytes % KiB == 0 => string.Create(CultureInfo.InvariantCulture, $"{bytes / KiB} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };
}
