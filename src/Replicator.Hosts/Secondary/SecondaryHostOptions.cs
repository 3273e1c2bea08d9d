using Replicator.Core.Testing;
using Replicator.Hosts.Storage;
using Replicator.Protocol.Pages;

namespace Replicator.Hosts.Secondary;

/// <summary>What the secondary's host decides with: the pair it belongs to, its bounds and its timeouts.</summary>
public sealed record SecondaryHostOptions
{
    public required string PairId { get; init; }

    public int BlockSize { get; init; } = 4096;

    public int MaxRequestBytes { get; init; } = 1 << 20;

    /// <summary>
    /// The credit window: what the primary may have sent and this node not yet committed. It is also
    /// how much can queue ahead of a checkpoint on the link, so it bounds the commit latency: 256 MiB
    /// let 1 MiB writes queue seconds of data ahead of each checkpoint (commits of over 2 s; 64 MiB
    /// gave 2–3 times the throughput with a p99 of 0.1–0.2 s, docs/performance.md).
    /// </summary>
    public long BufferCapacityBytes { get; init; } = 64L << 20;

    /// <summary>
    /// Committed bytes that may wait in RAM for the write-back: records with their credit returned
    /// (<see cref="Core.Secondary.SecondaryOptions.WritebackCapacityBytes"/>), and apart from them
    /// checkpoints' RAM pages with their epochs acknowledged (<see cref="Core.Secondary.SecondaryOptions.WritebackPageCapacityBytes"/>).
    /// </summary>
    public long WritebackCapacityBytes { get; init; } = 256L << 20;

    public long RamBytes { get; init; } = 16L << 20;

    public int PageSize { get; init; } = 4096;

    /// <summary>How long a silent primary (or a connection that sends no hello) is given before its link is closed.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Refused connections are logged at most once per this interval (with how many were not).</summary>
    public TimeSpan RefusalReportInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Where the host's instruments go (<see cref="SecondaryMetrics"/>): the shell's meter, which it
    /// disposes with the node; null (the simulator, most tests) measures nothing.
    /// </summary>
    public System.Diagnostics.Metrics.Meter? Meter { get; init; }

    /// <summary>Promote when the primary's heartbeats stop, instead of waiting for an operator.</summary>
    public bool AutoFailover { get; init; }

    /// <summary>The witness, when the pair has one: auto-failover then promotes only with its vote.</summary>
    public Witness.WitnessSessionOptions? Witness { get; init; }

    /// <summary>The operator's fence command, run before an automatic promotion; without a witness the promotion waits for its success.</summary>
    public string? FenceCommand { get; init; }

    /// <summary>A fence command still running after this has failed.</summary>
    public TimeSpan FenceTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The operator's forced failover at start: promote at once from the last checkpoint the node can
    /// verify, reading a damaged journal up to its damage (kept, unchanged, as evidence) and
    /// discarding what lies beyond — which the log names. Without it a damaged journal is refused.
    /// </summary>
    public bool FailoverDiscardingUnverifiable { get; init; }

    /// <summary>Appends move to the journal's other file once the current one holds this much and the other is applied (<see cref="EpochJournal.DefaultSwitchAboveBytes"/>).</summary>
    public long JournalSwitchAboveBytes { get; init; } = EpochJournal.DefaultSwitchAboveBytes;

    /// <summary>
    /// Which page encoding this node takes from a primary (none: pages come whole), and the most
    /// memory it keeps per link to decode differences against (<see cref="PageTerms.Agree"/>).
    /// </summary>
    public PageTerms PageTerms { get; init; } = PageTerms.Default;

    /// <summary>The buffer the journal gathers records written ahead in (<see cref="EpochJournal.DefaultStagingBytes"/>).</summary>
    public int JournalStagingBytes { get; init; } = EpochJournal.DefaultStagingBytes;

    /// <summary>A deliberate defect for the simulator's checkers to catch; never set by the daemons.</summary>
    public PlantedBug Plant { get; init; }
}
