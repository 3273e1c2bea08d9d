using System.Buffers;
using BenchmarkDotNet.Attributes;
using MessagePack;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Benchmarks;

/// <summary>
/// What the secondary does with a checkpoint of N dirty 4 KiB RAM pages sent as they are, before its
/// journal write: the receive loop's part, the host loop's part, and the journal's encoding of it.
/// The baseline (ratio 1) is the way it went before, still the journal replay's: the whole message
/// decoded on the receive loop, the pages copied out of the frame into arrays of their own. The
/// journal then encoded the record again; a checkpoint received as it is now stores its bytes instead.
/// </summary>
[MemoryDiagnoser]
public class SecondaryCheckpointReceiveBenchmarks
{
    private readonly ArrayBufferWriter<byte> _journalBody = new(1 << 20);
    private Frame _frame;
    private SecondaryInput _received;
    private CheckpointRecord _checkpoint = null!;

    /// <summary>Dirty pages per checkpoint: 256 (1 MiB) or 4,096 (16 MiB).</summary>
    [Params(256, 4096)]
    public int Pages { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(11);
        var pages = new VmPage[Pages];
        for (int i = 0; i < pages.Length; i++)
        {
            byte[] data = new byte[4096];
            random.NextBytes(data);
            pages[i] = new VmPage(i * 3, data);
        }

        var snapshot = new VmSnapshot(5, new byte[512], pages);
        _checkpoint = new CheckpointRecord(5, 100, 99, default(EpochDigest).Value, snapshot, snapshot.ComputeDigest());
        byte[] body = MessagePackSerializer.Serialize(CheckpointMessage.From(_checkpoint), ControlCodec.Options);
        _frame = new Frame(new FrameHeader(FrameType.Checkpoint, 0, body.Length, 1, 0), new ReadOnlySequence<byte>(body));
        _received = SecondaryFrameDecoder.Decode(_frame, receivedAt: 0);
    }

    /// <summary>Before: the receive loop decoded the message, copying every page out of the frame.</summary>
    [Benchmark(Baseline = true)]
    public int DecodeOnTheReceiveLoop() => ControlCodec.Decode<CheckpointMessage>(_frame, FrameType.Checkpoint).ToRecord().Snapshot.Pages.Count;

    /// <summary>Now, the receive loop: the frame's body copied into pooled memory (given back here, as the epoch's apply does).</summary>
    [Benchmark]
    public int CopyOnTheReceiveLoop()
    {
        SecondaryInput input = SecondaryFrameDecoder.Decode(_frame, receivedAt: 0);
        int length = input.CheckpointBody.Length;
        input.Owner!.Dispose();
        return length;
    }

    /// <summary>Now, the host's loop: the message decoded in that copy, its pages left where they are.</summary>
    [Benchmark]
    public int DecodeOnTheHostLoop() => SecondaryFrameDecoder.DecodeCheckpoint(_received, pages: null, out _).Snapshot.Pages.Count;

    /// <summary>Before, in the journal's commit: the record encoded again (a received one is now stored as it came).</summary>
    [Benchmark]
    public int EncodeForTheJournal()
    {
        _journalBody.ResetWrittenCount();
        MessagePackSerializer.Serialize(_journalBody, CheckpointMessage.From(_checkpoint), ControlCodec.Options);
        return _journalBody.WrittenCount;
    }
}
