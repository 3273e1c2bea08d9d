using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Testing;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests.Support;

/// <summary>A secondary host on in-memory storage, its actions recorded; the test plays the shell.</summary>
internal sealed class SecondaryHarness : ISecondaryHostActions
{
    public const int MaxRequestBytes = 64 * 1024;
    public const long ImageBytes = 1 << 20;

    private readonly Queue<SecondaryStorageOperation> _storage = new();
    private long _nextLink;

    /// <param name="blank">A new node that never held the pair's data; otherwise one synced from the harness's primary earlier.</param>
    /// <param name="directory">The state directory of a node that ran before (a restart); its record is kept.</param>
    /// <param name="writebackBytes">The write-back backlog's bound (<see cref="SecondaryHostOptions.WritebackCapacityBytes"/>).</param>
    /// <param name="configure">Changes to the host's options (a witness, a fence command).</param>
    public SecondaryHarness(PlantedBug plant = PlantedBug.None, IStorageFaults? faults = null, bool blank = false, MemoryStorageDirectory? directory = null, long writebackBytes = 1 << 20, Func<SecondaryHostOptions, SecondaryHostOptions>? configure = null)
    {
        Directory = directory ?? new MemoryStorageDirectory("state", faults);
        if (!blank && directory is null)
        {
            new NodeStateStore(Directory).Save(new NodeState { PairId = "pair-1", Role = NodeRole.Secondary, Generations = PrimaryGenerations, JournalSalt = 7 });
        }

        Options = new SecondaryHostOptions
        {
            PairId = "pair-1",
            MaxRequestBytes = MaxRequestBytes,
            BufferCapacityBytes = 1 << 20,
            WritebackCapacityBytes = writebackBytes,
            RamBytes = 4 * 4096,
            HeartbeatTimeout = TimeSpan.FromSeconds(1),
            Plant = plant,
        };
        Options = configure?.Invoke(Options) ?? Options;
        Host = new SecondaryHost(Options, this, Log, Time);
        Host.Start(new MemoryBlockDevice("disk.img", new MemoryDisk(ImageBytes), faults), Directory);
    }

    public SecondaryHostOptions Options { get; }

    public FakeTimeProvider Time { get; } = new();

    /// <summary>What the host told the operator.</summary>
    public FakeLogger Log { get; } = new();

    /// <summary>The messages logged so far that contain <paramref name="text"/>.</summary>
    public IEnumerable<string> Logged(string text) => Log.Collector.GetSnapshot().Select(r => r.Message).Where(m => m.Contains(text, StringComparison.Ordinal));

    public MemoryStorageDirectory Directory { get; }

    public SecondaryHost Host { get; }

    public List<(LinkId Link, FrameType Type, object Message)> Sent { get; } = new();

    public List<(LinkId Link, string Reason, bool Fenced)> Closed { get; } = new();

    public List<string> Halted { get; } = new();

    public List<long> Promotions { get; } = new();

    /// <summary>Storage operations asked for and not yet run, records written ahead of their commit aside.</summary>
    public int PendingStorage => _storage.Count(op => op.Kind != SecondaryStorageKind.StageRecord);

    /// <summary>The records written ahead of their commit so far, by the host's asking.</summary>
    public List<SecondaryStorageOperation> Staged { get; } = new();

    public IEnumerable<T> SentOf<T>(LinkId link) => Sent.Where(s => s.Link == link).Select(s => s.Message).OfType<T>();

    public static PairIdentity Identity(string pairId = "pair-1") =>
        new() { PairId = pairId, ImageBytes = ImageBytes, BlockSize = 4096, MaxRequestBytes = MaxRequestBytes };

    /// <summary>The data generations the harness's primary holds: its image is where the pair's data began.</summary>
    public static DataGenerations PrimaryGenerations { get; } = DataGenerations.None.Begin(new GenerationMark { Id = 0x5eed, SinceUnixMilliseconds = 1_700_000_000_000, Cause = GenerationCause.Created });

    /// <summary>A primary's hello: by default the harness's primary, holding the data this node holds.</summary>
    public static SecondaryInput Hello(PairIdentity? identity = null, DataGenerations? generations = null, bool vouches = false) =>
        new(SecondaryInputKind.Hello, Hello: new HelloMessage { ProtocolVersion = Handshake.ProtocolVersion, Identity = identity ?? Identity(), Generations = generations ?? PrimaryGenerations, VouchesBlankSecondaryEqual = vouches });

    /// <summary>A new connection that says hello.</summary>
    public LinkId Connect(PairIdentity? identity = null, DataGenerations? generations = null, bool vouches = false)
    {
        var link = new LinkId(++_nextLink);
        Host.OnLinkConnected(link, $"peer {link}");
        Host.OnInput(link, Hello(identity, generations, vouches));
        return link;
    }

    /// <summary>Epoch <paramref name="epoch"/> of one 4 KiB write at sequence <paramref name="sequence"/>, mirrored and closed on the link.</summary>
    public void SendEpoch(LinkId link, long epoch, long sequence, bool resyncPending = false, bool startsResync = false, int pages = 0)
    {
        var record = new MirrorRecord(epoch, sequence, BlockRequest.Write((epoch % 16) * 4096, 4096), Enumerable.Repeat((byte)epoch, 4096).ToArray());
        var digest = default(EpochDigest);
        digest.Add(record);
        Host.OnInput(link, new SecondaryInput(SecondaryInputKind.Mirror, record));
        var snapshot = new VmSnapshot(epoch, [], [.. Enumerable.Range(0, pages).Select(index => new VmPage(index, Enumerable.Repeat((byte)epoch, 4096).ToArray()))]);
        Host.OnInput(link, Checkpoint(new CheckpointRecord(epoch, sequence, sequence, digest.Value, snapshot, snapshot.ComputeDigest()) { ResyncPending = resyncPending, StartsResync = startsResync }));
    }

    /// <summary>A checkpoint as the receive loop hands it over: its frame's body copied out, pages as they are.</summary>
    public static SecondaryInput Checkpoint(CheckpointRecord checkpoint) => Checkpoint(CheckpointMessage.From(checkpoint));

    /// <summary>A checkpoint message (its pages perhaps encoded) as the receive loop hands it over.</summary>
    public static SecondaryInput Checkpoint(CheckpointMessage message)
    {
        byte[] body = MessagePack.MessagePackSerializer.Serialize(message, ControlCodec.Options);
        var frame = new Frame(new FrameHeader(FrameType.Checkpoint, 0, body.Length, 1, 0), new System.Buffers.ReadOnlySequence<byte>(body));
        return SecondaryFrameDecoder.Decode(frame, receivedAt: 0);
    }

    /// <summary>A primary's resync start bringing <paramref name="generations"/>.</summary>
    public static SecondaryInput ResyncStart(long baseEpoch, long firstEpoch, long firstSequence, DataGenerations generations, bool wholeImage) =>
        new(SecondaryInputKind.ResyncStart, ResyncStart: new ResyncStartMessage { BaseEpoch = baseEpoch, FirstEpoch = firstEpoch, FirstSequence = firstSequence, Generations = generations, WholeImage = wholeImage });

    /// <summary>
    /// Runs the storage operations asked for so far (and what they lead to), in order, as a shell's
    /// lanes would; <paramref name="limit"/> counts all but the records written ahead, which run
    /// with the operations around them.
    /// </summary>
    public void RunStorage(int limit = int.MaxValue)
    {
        for (int i = 0; i < limit && _storage.TryDequeue(out SecondaryStorageOperation op);)
        {
            // As the daemon does: only what the host acts on goes back to it.
            SecondaryStorageCompletion completion = Host.Storage.Run(op);
            if (completion.MattersToHost)
            {
                Host.OnStorageCompleted(completion);
            }

            i += op.Kind == SecondaryStorageKind.StageRecord ? 0 : 1;
        }
    }

    public void Send<T>(LinkId link, FrameType type, T message) => Sent.Add((link, type, message!));

    public void Close(LinkId link, string reason, bool fenced = false) => Closed.Add((link, reason, fenced));

    public void RunStorage(in SecondaryStorageOperation operation)
    {
        _storage.Enqueue(operation);
        if (operation.Kind == SecondaryStorageKind.StageRecord)
        {
            Staged.Add(operation);
        }
    }

    public void Promoted(long epoch) => Promotions.Add(epoch);

    public void Halt(string reason) => Halted.Add(reason);

    public void PromotionRefused(string reason) => PromotionsRefused.Add(reason);

    /// <summary>Operator failovers the witness refused.</summary>
    public List<string> PromotionsRefused { get; } = new();

    public void ConnectWitness(TimeSpan timeout) => WitnessConnects++;

    public void RunFence(FenceRequest request) => Fences.Add(request);

    /// <summary>Connections to the witness the host asked for.</summary>
    public int WitnessConnects { get; private set; }

    /// <summary>Fence commands the host asked to run.</summary>
    public List<FenceRequest> Fences { get; } = new();
}
