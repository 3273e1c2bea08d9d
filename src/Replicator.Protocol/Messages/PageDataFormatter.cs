using System.Buffers;
using MessagePack;
using MessagePack.Formatters;

namespace Replicator.Protocol.Messages;

/// <summary>
/// A checkpoint's RAM pages on the wire: a MessagePack array of bin, one per page (the form an array
/// of byte arrays takes). Written straight from each page's memory; read into one array for all the
/// pages, each page a slice of it, rather than an array per page: a checkpoint of thousands of pages
/// is then one allocation, not thousands of small objects for the collector to trace and promote
/// while the epoch waits to be applied.
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

        // First pass over a copy of the reader: how many bytes the pages take (the frame bounds it).
        MessagePackReader measure = reader.CreatePeekReader();
        int count = measure.ReadArrayHeader();
        long total = 0;
        for (int i = 0; i < count; i++)
        {
            total += measure.ReadBytes()?.Length ?? throw new MessagePackSerializationException($"page {i} is nil");
        }

        if (total > Array.MaxLength)
        {
            throw new MessagePackSerializationException($"the pages take {total} bytes, more than one array holds");
        }

        byte[] all = GC.AllocateUninitializedArray<byte>((int)total);
        var pages = new ReadOnlyMemory<byte>[reader.ReadArrayHeader()];
        int at = 0;
        for (int i = 0; i < pages.Length; i++)
        {
            ReadOnlySequence<byte> bytes = reader.ReadBytes()!.Value;
            bytes.CopyTo(all.AsSpan(at));
            pages[i] = all.AsMemory(at, (int)bytes.Length);
            at += (int)bytes.Length;
        }

        return pages;
    }
}
