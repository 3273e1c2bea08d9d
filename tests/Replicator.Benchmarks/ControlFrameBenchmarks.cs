using System.Buffers;
using BenchmarkDotNet.Attributes;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Benchmarks;

/// <summary>
/// Control frames through <see cref="ControlCodec"/> (MessagePack): the acknowledgement, sent once
/// per epoch, and the checkpoint carrying 64 dirty RAM pages (256 KiB), the largest control frame.
/// Decoding starts from a checked frame, as the receive loop hands it over.
/// </summary>
[MemoryDiagnoser]
public class ControlFrameBenchmarks
{
    private const int DirtyPages = 64;
    private const int PageBytes = 4096;

    private readonly FrameWriter _writer = new();
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);
    private readonly AckMessage _ack = new() { Epoch = 123_456 };
    private CheckpointRecord _checkpoint = null!;
    private Frame _ackFrame;
    private Frame _checkpointFrame;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(3);
        var pages = new VmPage[DirtyPages];
        for (int i = 0; i < pages.Length; i++)
        {
            byte[] data = new byte[PageBytes];
            random.NextBytes(data);
            pages[i] = new VmPage(i * 17, data);
        }

        var snapshot = new VmSnapshot(9, new byte[512], pages);
        _checkpoint = new CheckpointRecord(9, 1000, 1255, 0x1234_5678_9abc_def0, snapshot, snapshot.ComputeDigest());
        _ackFrame = Encode(FrameType.Ack, _ack);
        _checkpointFrame = Encode(FrameType.Checkpoint, CheckpointMessage.From(_checkpoint));
    }

    [Benchmark]
    public int EncodeAck()
    {
        _output.ResetWrittenCount();
        _writer.WriteControl(_output, FrameType.Ack, _ack);
        return _output.WrittenCount;
    }

    [Benchmark]
    public long DecodeAck() => ControlCodec.Decode<AckMessage>(_ackFrame, FrameType.Ack).Epoch;

    [Benchmark]
    public int EncodeCheckpoint64Pages()
    {
        _output.ResetWrittenCount();
        _writer.WriteControl(_output, FrameType.Checkpoint, CheckpointMessage.From(_checkpoint));
        return _output.WrittenCount;
    }

    [Benchmark]
    public long DecodeCheckpoint64Pages() =>
        ControlCodec.Decode<CheckpointMessage>(_checkpointFrame, FrameType.Checkpoint).ToRecord().RecordCount;

    private static Frame Encode<T>(FrameType type, T message)
    {
        var encoded = new ArrayBufferWriter<byte>();
        new FrameWriter().WriteControl(encoded, type, message);
        byte[] bytes = encoded.WrittenSpan.ToArray();
        FrameHeader header = FrameHeader.Read(bytes, out _);
        return new Frame(header, new ReadOnlySequence<byte>(bytes, FrameHeader.Size, header.BodyLength));
    }
}
