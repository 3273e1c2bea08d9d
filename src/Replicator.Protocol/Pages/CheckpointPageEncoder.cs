using K4os.Compression.LZ4;
using Replicator.Core.Vm;

namespace Replicator.Protocol.Pages;

/// <summary>
/// The primary's end of a link's page encoding: each page of a checkpoint as its difference from the
/// page both ends cached for its index, or as itself, in the link's <see cref="PageEncoding"/> —
/// whole when nothing smaller comes out. One per link, used on the host's loop, in the order the
/// checkpoints are sent; its <see cref="PageCache"/> follows the secondary's <see cref="CheckpointPageDecoder"/>.
/// </summary>
public sealed class CheckpointPageEncoder
{
    /// <summary>A form byte and the decoded length (LEB128: 3 bytes for a page of up to <see cref="CheckpointPageDecoder.LargestPageBytes"/>).</summary>
    private const int HeaderRoom = 4;

    private readonly PageCache _cache;
    private readonly byte[] _difference = new byte[CheckpointPageDecoder.LargestPageBytes];

    // The encoded pages of the last checkpoint, back to back; grown, never shrunk.
    private byte[] _output = [];

    public CheckpointPageEncoder(PageEncoding encoding, long cacheBytes)
    {
        if (encoding is not (PageEncoding.ZeroRuns or PageEncoding.Lz4))
        {
            throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "a page encoder encodes ZeroRuns or Lz4");
        }

        Encoding = encoding;
        _cache = new PageCache(cacheBytes);
    }

    public PageEncoding Encoding { get; }

    /// <summary>Checkpoints encoded on the link so far: the last one's <see cref="Messages.CheckpointMessage.PageSequence"/>.</summary>
    public long Checkpoints { get; private set; }

    /// <summary>Page bytes given to <see cref="Encode"/> since the link opened.</summary>
    public long BytesIn { get; private set; }

    /// <summary>What they took encoded (form bytes and headers included).</summary>
    public long BytesOut { get; private set; }

    /// <summary>Pages sent as their difference from a cached page.</summary>
    public long PagesAsDifference { get; private set; }

    /// <summary>
    /// The pages encoded, in order: each entry is lent until the next call (copy it, or send it, first).
    /// Every page goes into the cache as it is, so both ends hold what this checkpoint carried.
    /// </summary>
    public ReadOnlyMemory<byte>[] Encode(IReadOnlyList<VmPage> pages)
    {
        ArgumentNullException.ThrowIfNull(pages);
        long most = 0;
        foreach (VmPage page in pages)
        {
            most += 1 + page.Data.Length;
        }

        if (_output.Length < most)
        {
            _output = GC.AllocateUninitializedArray<byte>((int)Math.Max(most, Math.Min(2L * _output.Length, int.MaxValue)));
        }

        // Sized for every page whole, so the output is not reallocated under the slices handed out.
        Checkpoints++;
        var encoded = new ReadOnlyMemory<byte>[pages.Count];
        int at = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            VmPage page = pages[i];
            int length = EncodeOne(page, _output.AsSpan(at, 1 + page.Data.Length));
            encoded[i] = _output.AsMemory(at, length);
            at += length;
            BytesIn += page.Data.Length;
        }

        BytesOut += at;
        return encoded;
    }

    /// <summary>Writes one page into <paramref name="target"/> (its length plus one: room for it whole); the bytes written.</summary>
    private int EncodeOne(VmPage page, Span<byte> target)
    {
        ReadOnlySpan<byte> data = page.Data.Span;
        ReadOnlySpan<byte> source = data;
        bool difference = false;
        if (_cache.TryGet(page.Index, data.Length, out ReadOnlySpan<byte> cached))
        {
            Span<byte> delta = _difference.AsSpan(0, data.Length);
            PageXor.Apply(data, cached, delta);
            source = delta;
            difference = true;
        }

        int written = TryEncode(source, difference, target);
        if (written < 0)
        {
            target[0] = (byte)PageForm.Whole;
            data.CopyTo(target[1..]);
            written = 1 + data.Length;
        }
        else if (difference)
        {
            PagesAsDifference++;
        }

        _cache.Keep(page.Index, data);
        return written;
    }

    /// <summary>The page (or its difference) in the link's encoding, if that is shorter than sending it whole; else -1.</summary>
    private int TryEncode(ReadOnlySpan<byte> source, bool difference, Span<byte> target)
    {
        if (target.Length <= HeaderRoom || source.Length > CheckpointPageDecoder.LargestPageBytes)
        {
            return -1;
        }

        int header = 1 + ZeroRunCodec.Write(target[1..HeaderRoom], (uint)source.Length);
        // Anything not shorter than the page whole is sent whole.
        Span<byte> body = target[header..^1];
        int encoded;
        if (Encoding == PageEncoding.ZeroRuns)
        {
            target[0] = (byte)(difference ? PageForm.DeltaZeroRuns : PageForm.ZeroRuns);
            encoded = ZeroRunCodec.Encode(source, body);
        }
        else
        {
            target[0] = (byte)(difference ? PageForm.DeltaLz4 : PageForm.Lz4);
            encoded = LZ4Codec.Encode(source, body, LZ4Level.L00_FAST);
        }

        return encoded <= 0 ? -1 : header + encoded;
    }
}
