using System.Buffers;
using BenchmarkDotNet.Attributes;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;

namespace Replicator.Benchmarks;

/// <summary>
/// A checkpoint of 1,024 dirty 4 KiB pages (4 MiB) through the link's page encoding, each side on
/// its own: the primary encodes and frames it, the secondary decodes the frame and its pages. Each
/// page flips between two versions from one checkpoint to the next, so every page is cached and
/// sent as its difference from the version before, as a page dirtied again is. How the versions
/// differ is the parameter: in one 8-byte word (a counter), in half the page (rewritten), or in
/// every byte (random contents, the worst case). <see cref="PageEncoding.None"/> is the baseline:
/// the page bytes framed as they are. The frame's size is written to the log at setup
/// (<c>PAGES</c> lines): the wire bytes.
/// </summary>
[MemoryDiagnoser]
public class PageEncodingBenchmarks
{
    private const int Pages = 1024;
    private const int PageBytes = 4096;

    private readonly FrameWriter _writer = new();
    private readonly ArrayBufferWriter<byte> _output = new(8 << 20);
    private readonly CheckpointRecord[] _versions = new CheckpointRecord[2];
    private readonly Frame[] _frames = new Frame[2];
    private CheckpointPageEncoder? _encoder;
    private CheckpointPageDecoder? _decoder;
    private int _next;

    /// <summary>How a page's two versions differ.</summary>
    public enum PageChange
    {
        Word,
        HalfPage,
        WholePage,
    }

    [Params(PageChange.Word, PageChange.HalfPage, PageChange.WholePage)]
    public PageChange Change { get; set; }

    [Params(PageEncoding.None, PageEncoding.ZeroRuns, PageEncoding.Lz4)]
    public PageEncoding Encoding { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        var first = new VmPage[Pages];
        var second = new VmPage[Pages];
        for (int i = 0; i < Pages; i++)
        {
            // Guest-like contents: half the page text-like (compressible), half random.
            byte[] a = new byte[PageBytes];
            random.NextBytes(a.AsSpan(PageBytes / 2));
            for (int j = 0; j < PageBytes / 2; j++)
            {
                a[j] = (byte)('a' + random.Next(8));
            }

            byte[] b = (byte[])a.Clone();
            switch (Change)
            {
                case PageChange.Word:
                    b[random.Next(PageBytes / 8) * 8] ^= 0x5A;
                    break;
                case PageChange.HalfPage:
                    random.NextBytes(b.AsSpan(random.Next(2) * PageBytes / 2, PageBytes / 2));
                    break;
                case PageChange.WholePage:
                    random.NextBytes(b);
                    break;
            }

            first[i] = new VmPage(i * 3, a);
            second[i] = new VmPage(i * 3, b);
        }

        _versions[0] = Checkpoint(1, first);
        _versions[1] = Checkpoint(2, second);
        bool encodes = Encoding != PageEncoding.None;
        _encoder = encodes ? new CheckpointPageEncoder(Encoding, 64L << 20) : null;
        _decoder = encodes ? new CheckpointPageDecoder(Encoding, 64L << 20, Pages * PageBytes) : null;

        // Both caches warm: each side has seen version 0, then the frames alternate 1, 0, 1, ...
        byte[] warm = Frame(_versions[0]);
        _decoder?.Decode(1, 1, first.Select(p => p.Index).ToArray(), Decode(warm).PageData);
        byte[] toSecond = Frame(_versions[1]);
        byte[] toFirst = Frame(_versions[0]);
        _frames[1] = AsFrame(toSecond);
        _frames[0] = AsFrame(toFirst);
        Console.WriteLine($"PAGES {Change} {Encoding}: {toSecond.Length:N0} bytes on the wire for {Pages * PageBytes:N0} bytes of pages ({(double)toSecond.Length / (Pages * PageBytes):P1})");
    }

    /// <summary>The primary's side: a checkpoint encoded and framed.</summary>
    [Benchmark]
    public int Encode()
    {
        _next ^= 1;
        _output.ResetWrittenCount();
        _writer.WriteControl(_output, FrameType.Checkpoint, CheckpointMessage.From(_versions[_next], _encoder));
        return _output.WrittenCount;
    }

    /// <summary>The secondary's side: the frame decoded and its pages decoded against the cache.</summary>
    [Benchmark]
    public int Decode()
    {
        _next ^= 1;
        CheckpointMessage message = ControlCodec.Decode<CheckpointMessage>(_frames[_next], FrameType.Checkpoint);
        if (_decoder is not null)
        {
            // The frames were encoded once; each is taken as the link's next, as it would be on a live link.
            message.PageSequence = _decoder.Checkpoints + 1;
        }

        return message.ToRecord(_decoder).Snapshot.Pages.Count;
    }

    private static CheckpointRecord Checkpoint(long epoch, VmPage[] pages)
    {
        var snapshot = new VmSnapshot(epoch, new byte[512], pages);
        return new CheckpointRecord(epoch, 1, 0, 0, snapshot, snapshot.ComputeDigest());
    }

    private byte[] Frame(CheckpointRecord checkpoint)
    {
        var encoded = new ArrayBufferWriter<byte>();
        _writer.WriteControl(encoded, FrameType.Checkpoint, CheckpointMessage.From(checkpoint, _encoder));
        return encoded.WrittenSpan.ToArray();
    }

    private static CheckpointMessage Decode(byte[] frame) => ControlCodec.Decode<CheckpointMessage>(AsFrame(frame), FrameType.Checkpoint);

    private static Frame AsFrame(byte[] bytes)
    {
        FrameHeader header = FrameHeader.Read(bytes, out _);
        return new Frame(header, new ReadOnlySequence<byte>(bytes, FrameHeader.Size, header.BodyLength));
    }
}
