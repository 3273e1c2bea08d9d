using System.Buffers;
using MessagePack;
using MessagePack.Formatters;

namespace Replicator.Protocol.Messages;

/// <summary>
/// A checkpoint's RAM pages on the wire: a MessagePack array of bin, one per page (the form an array
/// of byte arrays takes). Written straight from each page's memory. Read as slices of the bytes read
/// from when the options say those bytes are the reader's to keep (<see cref="ControlCodec.KeepingPagesOptions"/>),
/// otherwise copied into <see cref="Pages.PageChunks"/>, each page a slice of an array of 16; never
/// an array per page.
/// </summary>
public sealed class PageDataFormatter : IMessagePackFormatter<ReadOnlyMemory<byte>[]?>
{
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
        var chunks = default(Pages.PageChunks);
        bool keepsInput = options is ControlCodec.KeepingPages;
        for (int i = 0; i < pages.Length; i++)
        {
            ReadOnlySequence<byte> bytes = reader.ReadBytes() ?? throw new MessagePackSerializationException($"page {i} is nil");
            if (keepsInput && bytes.IsSingleSegment)
            {
                pages[i] = bytes.First;
                continue;
            }

            int length = checked((int)bytes.Length);
            Memory<byte> page = chunks.Next(length, chunks.Fits(length) ? length : RemainingBytes(reader, pages.Length - i, length));
            bytes.CopyTo(page.Span);
            pages[i] = page;
        }

        return pages;
    }

    /// <summary>How many bytes the current page and the <paramref name="count"/> - 1 after it take (up to a chunk's worth), read ahead without moving <paramref name="reader"/>.</summary>
    private static long RemainingBytes(MessagePackReader reader, int count, int current)
    {
        long total = current;
        MessagePackReader ahead = reader.CreatePeekReader();
        for (int i = 1; i < count && total < Pages.PageChunks.ChunkBytes; i++)
        {
            total += ahead.ReadBytes()?.Length ?? 0;
        }

        return total;
    }
}
