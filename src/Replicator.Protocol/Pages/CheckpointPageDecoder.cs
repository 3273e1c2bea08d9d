using K4os.Compression.LZ4;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;

namespace Replicator.Protocol.Pages;

/// <summary>
/// The secondary's end of a link's page encoding: turns a checkpoint's encoded pages back into the
/// pages, and caches each exactly as the primary's <see cref="CheckpointPageEncoder"/> did. One per
/// link, fed every encoded checkpoint of that link in order. Anything it cannot decode — a form the
/// link did not agree on, a difference from a page it does not hold, a length that does not add up —
/// is a <see cref="ProtocolViolationException"/>; the checkpoint's digest then checks what was decoded.
/// </summary>
public sealed class CheckpointPageDecoder
{
    /// <summary>The largest page decoded from an encoded form (larger pages travel whole).</summary>
    public const int LargestPageBytes = 64 * 1024;

    private readonly PageCache _cache;
    private readonly byte[] _decoded = new byte[LargestPageBytes];

    /// <param name="encoding">The link's encoding.</param>
    /// <param name="cacheBytes">The link's page cache.</param>
    /// <param name="largestSnapshotBytes">
    /// The most page bytes one checkpoint may decode to (the guest's RAM): a few encoded bytes can
    /// stand for a page of zeros, so without it a small frame could ask for gigabytes.
    /// </param>
    public CheckpointPageDecoder(PageEncoding encoding, long cacheBytes, long largestSnapshotBytes)
    {
        if (encoding is not (PageEncoding.ZeroRuns or PageEncoding.Lz4))
        {
            throw new ArgumentOutOfRangeException(nameof(encoding), encoding, "a page decoder decodes ZeroRuns or Lz4");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(largestSnapshotBytes);
        Encoding = encoding;
        _cache = new PageCache(cacheBytes);
        LargestSnapshotBytes = largestSnapshotBytes;
    }

    public long LargestSnapshotBytes { get; }

    public PageEncoding Encoding { get; }

    /// <summary>Encoded checkpoints decoded on the link so far.</summary>
    public long Checkpoints { get; private set; }

    /// <summary>
    /// The pages of a checkpoint of <paramref name="epoch"/>, from their indexes and encoded forms;
    /// <paramref name="sequence"/> is its place among the link's encoded checkpoints, which must come in order.
    /// </summary>
    public VmPage[] Decode(long epoch, long sequence, long[] indexes, ReadOnlyMemory<byte>[] encoded)
    {
        ArgumentNullException.ThrowIfNull(indexes);
        ArgumentNullException.ThrowIfNull(encoded);
        if (sequence != Checkpoints + 1)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: its pages are the link's encoded checkpoint {sequence}, where {Checkpoints + 1} comes next (encoded pages are decoded in the order sent)");
        }

        if (indexes.Length != encoded.Length)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: {indexes.Length} page indexes but {encoded.Length} pages");
        }

        Checkpoints++;

        var pages = new VmPage[indexes.Length];
        var chunks = default(PageChunks);
        long total = 0;
        for (int i = 0; i < pages.Length; i++)
        {
            ReadOnlySpan<byte> decoded = DecodeOne(epoch, indexes[i], encoded[i].Span);
            total += decoded.Length;
            if (total > LargestSnapshotBytes)
            {
                throw new ProtocolViolationException($"checkpoint {epoch}: its pages decode to more than the {LargestSnapshotBytes} bytes of the guest's RAM");
            }

            if (encoded[i].Span[0] == (byte)PageForm.Whole) // DecodeOne refused a page without a form byte
            {
                // Sent whole: the message's own memory is the page, no copy (whoever holds the checkpoint keeps that memory).
                pages[i] = new VmPage(indexes[i], encoded[i][1..]);
            }
            else
            {
                Memory<byte> page = chunks.Next(decoded.Length, chunks.Fits(decoded.Length) ? decoded.Length : (long)(pages.Length - i) * decoded.Length);
                decoded.CopyTo(page.Span);
                pages[i] = new VmPage(indexes[i], page);
            }

            _cache.Keep(indexes[i], decoded);
        }

        return pages;
    }

    /// <summary>One page decoded: a view of the encoded bytes (whole) or of the decoder's own buffer, valid until the next page.</summary>
    private ReadOnlySpan<byte> DecodeOne(long epoch, long index, ReadOnlySpan<byte> encoded)
    {
        if (index < 0)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page index {index}");
        }

        if (encoded.IsEmpty)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page {index} is empty (no form byte)");
        }

        var form = (PageForm)encoded[0];
        if (form == PageForm.Whole)
        {
            return encoded[1..];
        }

        bool lz4 = form is PageForm.Lz4 or PageForm.DeltaLz4;
        if (!Enum.IsDefined(form) || lz4 != (Encoding == PageEncoding.Lz4))
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page {index} comes in form {form}, which a link encoding pages as {Encoding} does not use");
        }

        int read = 1;
        if (!ZeroRunCodec.TryRead(encoded, ref read, out uint length) || length > LargestPageBytes)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page {index} has no decoded length, or one over {LargestPageBytes} bytes");
        }

        bool difference = form is PageForm.DeltaZeroRuns or PageForm.DeltaLz4;
        ReadOnlySpan<byte> cached = default;
        if (difference && !_cache.TryGet(index, (int)length, out cached))
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page {index} comes as a difference from a page this node does not hold");
        }

        Span<byte> decoded = _decoded.AsSpan(0, (int)length);
        ReadOnlySpan<byte> body = encoded[read..];
        bool whole = lz4 ? LZ4Codec.Decode(body, decoded) == decoded.Length : ZeroRunCodec.TryDecode(body, decoded);
        if (!whole)
        {
            throw new ProtocolViolationException($"checkpoint {epoch}: page {index} does not decode to the {length} bytes it claims ({form})");
        }

        if (difference)
        {
            PageXor.Apply(decoded, cached, decoded);
        }

        return decoded;
    }
}
