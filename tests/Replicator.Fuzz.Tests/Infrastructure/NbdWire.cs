using System.Buffers.Binary;
using System.Text;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>NBD client messages as bytes (big-endian, as the protocol sends them), written from the protocol's text.</summary>
internal static class NbdWire
{
    public const ulong InitPassword = 0x4e42444d41474943; // "NBDMAGIC"
    public const ulong OptionMagic = 0x49484156454f5054; // "IHAVEOPT"
    public const ulong OptionReplyMagic = 0x0003e889045565a9;
    public const uint RequestMagic = 0x25609513;
    public const uint SimpleReplyMagic = 0x67446698;
    public const uint StructuredReplyMagic = 0x668e33ef;

    public const uint FixedNewstyle = 1;
    public const uint NoZeroes = 2;

    public const uint OptExportName = 1;
    public const uint OptAbort = 2;
    public const uint OptList = 3;
    public const uint OptStartTls = 5;
    public const uint OptInfo = 6;
    public const uint OptGo = 7;
    public const uint OptStructuredReply = 8;
    public const uint OptListMetaContext = 9;
    public const uint OptSetMetaContext = 10;

    public const ushort InfoExport = 0;
    public const ushort InfoName = 1;
    public const ushort InfoDescription = 2;
    public const ushort InfoBlockSize = 3;

    public const ushort CmdRead = 0;
    public const ushort CmdWrite = 1;
    public const ushort CmdDisconnect = 2;
    public const ushort CmdFlush = 3;
    public const ushort CmdTrim = 4;
    public const ushort CmdCache = 5;
    public const ushort CmdWriteZeroes = 6;
    public const ushort CmdBlockStatus = 7;

    public const ushort FlagFua = 1;
    public const ushort FlagNoHole = 2;
    public const ushort FlagDontFragment = 4;
    public const ushort FlagRequestOne = 8;
    public const ushort FlagFastZero = 16;

    public const ushort TransmissionFlagDontFragment = 1 << 7;

    public const int OptionHeaderSize = 16;
    public const int RequestHeaderSize = 28;

    public static byte[] ClientFlags(uint flags)
    {
        byte[] bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, flags);
        return bytes;
    }

    public static byte[] Option(uint option, ReadOnlySpan<byte> data)
    {
        byte[] bytes = new byte[OptionHeaderSize + data.Length];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, OptionMagic);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), option);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(12), (uint)data.Length);
        data.CopyTo(bytes.AsSpan(OptionHeaderSize));
        return bytes;
    }

    /// <summary>NBD_OPT_INFO / NBD_OPT_GO data: name length, name, count of information requests, the requests.</summary>
    public static byte[] InfoData(string name, params ushort[] requests)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name);
        byte[] bytes = new byte[4 + nameBytes.Length + 2 + (2 * requests.Length)];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)nameBytes.Length);
        nameBytes.CopyTo(bytes, 4);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + nameBytes.Length), (ushort)requests.Length);
        for (int i = 0; i < requests.Length; i++)
        {
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4 + nameBytes.Length + 2 + (2 * i)), requests[i]);
        }

        return bytes;
    }

    public static byte[] Request(ushort flags, ushort command, ulong handle, ulong offset, uint length, ReadOnlySpan<byte> payload = default)
    {
        byte[] bytes = new byte[RequestHeaderSize + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, RequestMagic);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(6), command);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(8), handle);
        BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(16), offset);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(24), length);
        payload.CopyTo(bytes.AsSpan(RequestHeaderSize));
        return bytes;
    }

    /// <summary>The handshake every transmission-phase input starts behind: fixed newstyle, no zeroes, NBD_OPT_GO for the default export.</summary>
    public static byte[] GoPrefix { get; } = [.. ClientFlags(FixedNewstyle | NoZeroes), .. Option(OptGo, InfoData("", InfoBlockSize))];

    /// <summary>The other handshake transmission inputs start behind: structured replies and the <c>base:allocation</c> context, then GO.</summary>
    public static byte[] StructuredGoPrefix { get; } =
    [
        .. ClientFlags(FixedNewstyle | NoZeroes),
        .. Option(OptStructuredReply, []),
        .. Option(OptSetMetaContext, MetaContextData("", "base:allocation")),
        .. Option(OptGo, InfoData("", InfoBlockSize)),
    ];

    /// <summary>NBD_OPT_LIST_META_CONTEXT / NBD_OPT_SET_META_CONTEXT data: name length, name, count of queries, each query's length and text.</summary>
    public static byte[] MetaContextData(string name, params string[] queries)
    {
        var bytes = new List<byte>();
        void Add(string text)
        {
            byte[] utf8 = Encoding.UTF8.GetBytes(text);
            byte[] length = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)utf8.Length);
            bytes.AddRange(length);
            bytes.AddRange(utf8);
        }

        Add(name);
        byte[] count = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(count, (uint)queries.Length);
        bytes.AddRange(count);
        foreach (string query in queries)
        {
            Add(query);
        }

        return [.. bytes];
    }

    /// <summary>The fields of a client's handshake bytes: the flags, then each option's code and length, and the name length and request count of INFO/GO.</summary>
    public static IReadOnlyList<Field> NegotiationFields(byte[] input)
    {
        var fields = new List<Field> { new(0, 4, true) };
        int at = 4;
        while (at + OptionHeaderSize <= input.Length && BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(at)) == OptionMagic)
        {
            uint option = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 8));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 12));
            fields.Add(new Field(at + 8, 4, true));
            fields.Add(new Field(at + 12, 4, true));
            int data = at + OptionHeaderSize;
            if (option is OptInfo or OptGo && data + 4 <= input.Length)
            {
                fields.Add(new Field(data, 4, true));
                uint nameLength = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(data));
                if (data + 4 + nameLength + 2 <= input.Length)
                {
                    fields.Add(new Field(data + 4 + (int)nameLength, 2, true));
                }
            }

            if (length > (uint)(input.Length - data))
            {
                break;
            }

            if (option == OptGo || option == OptExportName)
            {
                // What follows is transmission: requests.
                fields.AddRange(RequestFields(input, data + (int)length));
                break;
            }

            at = data + (int)length;
        }

        return fields;
    }

    /// <summary>The fields of transmission-phase requests from <paramref name="start"/>: flags, command, offset, length.</summary>
    public static IReadOnlyList<Field> RequestFields(byte[] input, int start = 0)
    {
        var fields = new List<Field>();
        int at = start;
        while (at + RequestHeaderSize <= input.Length && BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at)) == RequestMagic)
        {
            fields.Add(new Field(at + 4, 2, true));
            fields.Add(new Field(at + 6, 2, true));
            fields.Add(new Field(at + 16, 8, true));
            fields.Add(new Field(at + 24, 4, true));
            ushort command = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at + 6));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 24));
            at += RequestHeaderSize + (command == CmdWrite ? (int)Math.Min(length, (uint)input.Length) : 0);
        }

        return fields;
    }
}
