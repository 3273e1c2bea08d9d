using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Replicator.Hosts.Links;
using Replicator.Hosts.Witness;
using Replicator.InMemory;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Tests.Witness;

/// <summary>A witness host on an in-memory state directory, its answers recorded; the test plays both nodes and the shell.</summary>
internal sealed class WitnessHarness : IWitnessHostActions
{
    public static readonly TimeSpan MaxLease = TimeSpan.FromSeconds(2);
    public static readonly TimeSpan LeaseLength = TimeSpan.FromMilliseconds(1500);

    private long _nextLink;

    public WitnessHarness(MemoryStorageDirectory? directory = null, FakeTimeProvider? time = null, int maxPairs = 64, System.Diagnostics.Metrics.Meter? meter = null)
    {
        Directory = directory ?? new MemoryStorageDirectory("witness");
        Time = time ?? new FakeTimeProvider();
        Host = new WitnessHost(new WitnessHostOptions { MaxLease = MaxLease, IdleTimeout = TimeSpan.FromSeconds(5), MaxPairs = maxPairs, Meter = meter }, Directory, this, NullLogger.Instance, Time);
    }

    public MemoryStorageDirectory Directory { get; }

    public FakeTimeProvider Time { get; }

    public WitnessHost Host { get; }

    public List<(LinkId Link, WitnessAnswerMessage Answer)> Answers { get; } = new();

    public List<(LinkId Link, string Reason)> Closed { get; } = new();

    /// <summary>Generations a primary begins with: the pair's data.</summary>
    public static DataGenerations Created { get; } = DataGenerations.None.Begin(new GenerationMark { Id = 0x1111, Cause = GenerationCause.Created });

    public void Answer(LinkId link, WitnessAnswerMessage answer) => Answers.Add((link, answer));

    public void Close(LinkId link, string reason) => Closed.Add((link, reason));

    /// <summary>A node's connection, once it proved the key.</summary>
    public LinkId Connect()
    {
        var link = new LinkId(++_nextLink);
        Host.OnLinkConnected(link, $"node {link}");
        return link;
    }

    /// <summary>Waits out the start-up hold, within which a (re)started witness votes for nothing.</summary>
    public void PastStartHold() => Time.Advance(MaxLease * 1.2);

    public WitnessAnswerMessage Ask(LinkId link, WitnessRequestKind kind, DataGenerations generations, GenerationMark? proposed = null, string pairId = "pair-1", NodeRole? role = null, int? leaseMs = null)
    {
        Host.OnRequest(link, new WitnessRequestMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            PairId = pairId,
            Role = role ?? (kind == WitnessRequestKind.Lease ? NodeRole.Primary : NodeRole.Secondary),
            Kind = kind,
            Generations = generations,
            Proposed = proposed,
            SentAt = Time.GetTimestamp(),
            LeaseMilliseconds = leaseMs ?? (kind == WitnessRequestKind.Lease ? (int)LeaseLength.TotalMilliseconds : 0),
        });
        return Answers.Count > 0 && Answers[^1].Link == link ? Answers[^1].Answer : throw new InvalidOperationException("no answer");
    }

    public WitnessAnswerMessage Lease(LinkId link, DataGenerations generations) => Ask(link, WitnessRequestKind.Lease, generations);

    public WitnessAnswerMessage Vote(LinkId link, DataGenerations generations, GenerationMark proposed) => Ask(link, WitnessRequestKind.Vote, generations, proposed);

    public static GenerationMark Promotion(long id) => new() { Id = id, Cause = GenerationCause.Promotion };
}
