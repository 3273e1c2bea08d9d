using System.Buffers;
using MessagePack;
using MessagePack.Formatters;

namespace Replicator.Protocol.Messages;

/// <summary>
/// A checkpoint's RAM pages on the wire: a MessagePack array of bin, one per page (the form an array
/// of byte arrays takes). Written straight from each page's memory; read into arrays of
/// <see cref="ChunkBytes"/>, each page a slice of one, rather than an array per page: a checkpoint of
/// thousands of pages is then a sixteenth of the objects for the collector to trace and promote
/// while the epoch waits to be applied.
/// </summary>
public sealed class PageDataFormatter : IMessagePackFormatter<ReadOnlyMemory<byte>[]?>
{
    /// <summary>
    /// Pages are read into arrays of up to this many bytes (16 pages of 4 KiB): below the size the
    /// runtime puts on the large object heap, whose arrays are collected only with generation 2 —
    /// one array for a checkpoint's every page made decoding three times slower for that.
    /// </summary>
    public const int ChunkBytes = 64 * 1024;

    public void Serialize(ref MessagePackWriter writer, ReadOnlyMemory<byte>[]? value, MessagePackSerializerOptions options)
    {
        if (value is null)
        {
            writer.WriteNil();
            return;
        }

        writer.WriteArrayHeader(value.Length);
        foreach (ReadOnlyMemory<byte> page in value)
        {
            writer.Write(page.Span);
        }
    }

    public ReadOnlyMemory<byte>[]? Deserialize(ref MessagePackReader reader, MessagePackSerializerOptions options)
    {
        if (reader.TryReadNil())
        {
            return null;
        }

        var pages = new ReadOnlyMemory<byte>[reader.ReadArrayHeader()];
        byte[] chunk = [];
        int at = 0;
        for (int i = 0; i < pages.Length; i++)
        {
            ReadOnlySequence<byte> bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException($"page {i} is nil");
            int length = checked((int)bytes.Length);
            if (length > chunk.Length - at)
            {
                // The next chunk: the pages still to come, up to what stays off the large object heap.
                chunk = GC.AllocateUninitializedArray<byte>(Math.Max(length, Math.Min(ChunkBytes, RemainingBytes(reader, pages.Length - i, length))));
                at = 0;
            }

            bytes.CopyTo(chunk.AsSpan(at));
            pages[i] = chunk.AsMemory(at, length);
            at += length;
        }

        return pages;
    }

    /// <summary>How many bytes the current page and the <paramref name="count"/> - 1 after it take, read ahead without moving <paramref name="reader"/>.</summary>
    private static int RemainingBytes(MessagePackReader reader, int count, int current)
    {
        long total = current;
        MessagePackReader ahead = reader.CreatePeekReader();
        for (int i = 1; i < count && total < ChunkBytes; i++)
        {
            total += ahead.ReadBytes()?.Length ?? 0;
        }

        return (int)Math.Min(total, ChunkBytes);
    }
}
