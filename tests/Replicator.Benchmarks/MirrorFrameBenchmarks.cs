using System.Buffers;
using BenchmarkDotNet.Attributes;
using Replicator.Benchmarks.Support;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;

namespace Replicator.Benchmarks;

/// <summary>
/// One mirrored write on the link: encoding it as the primary's connection does (header, CRC-32C,
/// payload copied into the send buffer) and decoding it as the secondary's does (frame checks,
/// CRC-32C, payload copied into memory rented from the shared pool, as the runtime rents it) — or,
/// as on a TLS link (<see cref="FrameIntegrity.Transport"/>), the same without the CRC, which the
/// transport's own authentication replaces.
/// </summary>
[MemoryDiagnoser]
public class MirrorFrameBenchmarks
{
    private FrameWriter _writer = null!;
    private ArrayBufferWriter<byte> _output = null!;
    private MirrorRecord _record;
    private byte[] _encoded = null!;
    private FrameReader _reader = null!;

    [Params(4096, 65536)]
    public int PayloadBytes { get; set; }

    [Params(FrameIntegrity.Checksum, FrameIntegrity.Transport)]
    public FrameIntegrity Integrity { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        byte[] payload = new byte[PayloadBytes];
        new Random(1).NextBytes(payload);
        _record = new MirrorRecord(7, 1234, BlockRequest.Write(1 << 20, PayloadBytes), payload);
        _output = new ArrayBufferWriter<byte>(FrameHeader.Size + MirrorHeader.Size + PayloadBytes);

        _writer = new FrameWriter(Integrity);
        var encoded = new ArrayBufferWriter<byte>();
        new FrameWriter(Integrity).WriteMirror(encoded, _record);
        _encoded = encoded.WrittenSpan.ToArray();
        _reader = new FrameReader(MirrorHeader.Size + PayloadBytes, Integrity);
    }

    [Benchmark]
    public int EncodeMirror()
    {
        _output.ResetWrittenCount();
        _writer.WriteMirror(_output, _record);
        return _output.WrittenCount;
    }

    // The pool the secondary's link decodes into.
    private static readonly PayloadPool Payloads = new();

    [Benchmark]
    public long DecodeMirror()
    {
        FrameReaderRewind.ExpectedSequence(_reader) = 0;
        var buffer = new ReadOnlySequence<byte>(_encoded);
        if (!_reader.TryRead(ref buffer, out Frame frame))
        {
            throw new InvalidOperationException("the encoded frame did not decode");
        }

        MirrorRecord record = MirrorDecoder.Decode(frame, Payloads, out IMemoryOwner<byte>? owner);
        owner?.Dispose();
        return record.Sequence;
    }
}
