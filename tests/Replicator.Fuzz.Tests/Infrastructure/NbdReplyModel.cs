using System.Buffers.Binary;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// What an NBD server (fixed newstyle, simple replies, this export) must send back for a client's
/// byte stream, checked against what it did send: the greeting; for each whole option, replies
/// that echo it and end in an ack or an error (an ack only for options the server implements, and
/// for INFO/GO only after the export's information); the export-name reply; then, in transmission,
/// exactly one reply per request received, with the error the protocol's rules give (EINVAL,
/// ENOSPC) and a read's data; and nothing after the point where the server must close.
/// </summary>
internal static class NbdReplyModel
{
    private const uint TypeAck = 1;
    private const uint TypeServer = 2;
    private const uint TypeInfo = 3;
    private const uint MaxOptionBytes = 64 << 10;
    private const uint MaxSkippedPayload = 32 << 20;

    public static string Check(byte[] input, byte[] output)
    {
        var server = new ServerBytes(output);
        ReadOnlySpan<byte> greeting = server.Take(18, "greeting");
        if (BinaryPrimitives.ReadUInt64BigEndian(greeting) != NbdWire.InitPassword || BinaryPrimitives.ReadUInt64BigEndian(greeting[8..]) != NbdWire.OptionMagic
            || BinaryPrimitives.ReadUInt16BigEndian(greeting[16..]) != (NbdWire.FixedNewstyle | NbdWire.NoZeroes))
        {
            throw new FuzzPropertyException("greeting", Convert.ToHexString(greeting));
        }

        if (input.Length < 4)
        {
            return server.End("negotiation: no client flags");
        }

        uint flags = BinaryPrimitives.ReadUInt32BigEndian(input);
        if ((flags & ~(NbdWire.FixedNewstyle | NbdWire.NoZeroes)) != 0)
        {
            return server.End("negotiation: client flags refused");
        }

        bool fixedNewstyle = (flags & NbdWire.FixedNewstyle) != 0;
        bool noZeroes = (flags & NbdWire.NoZeroes) != 0;
        int at = 4;
        while (true)
        {
            if (input.Length - at < NbdWire.OptionHeaderSize)
            {
                return server.End("negotiation: client stopped");
            }

            ulong magic = BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(at));
            uint option = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 8));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 12));
            if (magic != NbdWire.OptionMagic || (!fixedNewstyle && option != NbdWire.OptExportName) || length > MaxOptionBytes)
            {
                return server.End("negotiation: option refused, closed");
            }

            if (input.Length - at - NbdWire.OptionHeaderSize < length)
            {
                return server.End("negotiation: option cut short");
            }

            ReadOnlySpan<byte> data = input.AsSpan(at + NbdWire.OptionHeaderSize, (int)length);
            at += NbdWire.OptionHeaderSize + (int)length;
            switch (option)
            {
                case NbdWire.OptExportName:
                    if (!data.IsEmpty && !data.SequenceEqual("disk"u8))
                    {
                        return server.End("negotiation: unknown export name, closed");
                    }

                    ReadOnlySpan<byte> reply = server.Take(10, "export-name reply");
                    if (BinaryPrimitives.ReadUInt64BigEndian(reply) != NbdServerHarness.ExportSize || (BinaryPrimitives.ReadUInt16BigEndian(reply[8..]) & 1) == 0)
                    {
                        throw new FuzzPropertyException("export-name", $"reply {Convert.ToHexString(reply)}");
                    }

                    if (!noZeroes && server.Take(124, "export-name padding").ContainsAnyExcept((byte)0))
                    {
                        throw new FuzzPropertyException("export-name", "padding is not zeroes");
                    }

                    return Transmission(input, at, server);
                case NbdWire.OptAbort:
                    if (ReadOptionReply(server, option, out _) != TypeAck)
                    {
                        throw new FuzzPropertyException("option reply", "NBD_OPT_ABORT not acked");
                    }

                    return server.End("negotiation: aborted");
                default:
                    if (AnswerOption(server, option))
                    {
                        return Transmission(input, at, server);
                    }

                    break;
            }
        }
    }

    /// <summary>Reads the replies to one option; true when it was an acked NBD_OPT_GO.</summary>
    private static bool AnswerOption(ServerBytes server, uint option)
    {
        bool sawExport = false;
        while (true)
        {
            uint type = ReadOptionReply(server, option, out byte[] data);
            switch (type)
            {
                case TypeInfo when option is NbdWire.OptInfo or NbdWire.OptGo:
                    if (data.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(data) == NbdWire.InfoExport)
                    {
                        if (data.Length != 12 || BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2)) != NbdServerHarness.ExportSize)
                        {
                            throw new FuzzPropertyException("option reply", $"export information {Convert.ToHexString(data)}");
                        }

                        sawExport = true;
                    }

                    continue;
                case TypeServer when option == NbdWire.OptList:
                    continue;
                case TypeAck when option is NbdWire.OptList:
                    return false;
                case TypeAck when option is NbdWire.OptInfo or NbdWire.OptGo && sawExport:
                    return option == NbdWire.OptGo;
                case >= 0x8000_0000:
                    return false;
                default:
                    throw new FuzzPropertyException("option reply", $"reply type 0x{type:x8} to option {option}{(type == TypeAck ? " (an ack the server cannot give)" : "")}");
            }
        }
    }

    private static uint ReadOptionReply(ServerBytes server, uint option, out byte[] data)
    {
        ReadOnlySpan<byte> header = server.Take(20, $"reply to option {option}");
        uint echoed = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        if (BinaryPrimitives.ReadUInt64BigEndian(header) != NbdWire.OptionReplyMagic || echoed != option)
        {
            throw new FuzzPropertyException("option reply", $"header {Convert.ToHexString(header)} answering option {option}");
        }

        data = server.Take((int)BinaryPrimitives.ReadUInt32BigEndian(header[16..]), "option reply data").ToArray();
        return BinaryPrimitives.ReadUInt32BigEndian(header[12..]);
    }

    /// <summary>The error the protocol's rules give a request on this export (1 MiB, 8 KiB requests, writable).</summary>
    private static uint ExpectedError(ushort flags, ushort command, ulong offset, uint length)
    {
        const uint invalid = 22;
        const uint noSpace = 28;
        ushort allowed = command switch
        {
            NbdWire.CmdRead or NbdWire.CmdWrite or NbdWire.CmdTrim or NbdWire.CmdFlush => NbdWire.FlagFua,
            NbdWire.CmdWriteZeroes => NbdWire.FlagFua | NbdWire.FlagNoHole,
            _ => 0,
        };
        if (command is not (NbdWire.CmdRead or NbdWire.CmdWrite or NbdWire.CmdFlush or NbdWire.CmdTrim or NbdWire.CmdWriteZeroes) || (flags & ~allowed) != 0)
        {
            return invalid;
        }

        if (command == NbdWire.CmdFlush)
        {
            return offset == 0 && length == 0 ? 0 : invalid;
        }

        if (length == 0 || offset % 512 != 0 || length % 512 != 0 || (length > NbdServerHarness.MaxRequest && command is NbdWire.CmdRead or NbdWire.CmdWrite))
        {
            return invalid;
        }

        if ((UInt128)offset + length > NbdServerHarness.ExportSize)
        {
            return command is NbdWire.CmdWrite or NbdWire.CmdWriteZeroes ? noSpace : invalid;
        }

        return 0;
    }

    private static string Transmission(byte[] input, int at, ServerBytes server)
    {
        var pending = new List<(ulong Handle, uint Error, int Data, string Request)>();
        while (input.Length - at >= NbdWire.RequestHeaderSize && BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at)) == NbdWire.RequestMagic)
        {
            ushort flags = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at + 4));
            ushort command = BinaryPrimitives.ReadUInt16BigEndian(input.AsSpan(at + 6));
            ulong handle = BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(at + 8));
            ulong offset = BinaryPrimitives.ReadUInt64BigEndian(input.AsSpan(at + 16));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(input.AsSpan(at + 24));
            at += NbdWire.RequestHeaderSize;
            if (command == NbdWire.CmdDisconnect)
            {
                break;
            }

            // A write's payload comes off the wire even when the write is refused; one far too long closes the connection.
            if (command == NbdWire.CmdWrite)
            {
                if (length > NbdServerHarness.MaxRequest && length > MaxSkippedPayload)
                {
                    break;
                }

                if (input.Length - at < length)
                {
                    break;
                }

                at += (int)length;
            }

            uint error = ExpectedError(flags, command, offset, length);
            pending.Add((handle, error, command == NbdWire.CmdRead && error == 0 ? (int)length : 0, $"command {command} flags {flags} at {offset}+{length}"));
        }

        int replies = 0;
        while (!server.AtEnd)
        {
            ReadOnlySpan<byte> header = server.Take(16, "simple reply");
            uint error = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
            ulong handle = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
            if (BinaryPrimitives.ReadUInt32BigEndian(header) != NbdWire.SimpleReplyMagic)
            {
                throw new FuzzPropertyException("reply", $"simple reply header {Convert.ToHexString(header)}");
            }

            var candidates = pending.Where(p => p.Handle == handle).ToList();
            if (candidates.Count == 0)
            {
                throw new FuzzPropertyException("reply", $"a reply (error {error}) to handle {handle}, which no request waiting has");
            }

            if (candidates.Any(c => c.Error != candidates[0].Error || c.Data != candidates[0].Data))
            {
                return $"transmission, requests sharing a handle";
            }

            (ulong _, uint expected, int dataBytes, string request) = candidates[0];
            if (error != expected)
            {
                throw new FuzzPropertyException("reply error", $"{request} got error {error}, the rules give {expected}");
            }

            server.Take(dataBytes, "read data");
            pending.Remove(candidates[0]);
            replies++;
        }

        if (pending.Count > 0)
        {
            throw new FuzzPropertyException("missing reply", $"{pending.Count} requests received got no reply, first: {pending[0].Request}");
        }

        return $"transmission, {replies switch { 0 => "0", 1 => "1", < 6 => "2-5", _ => "6+" }} replies";
    }

    private sealed class ServerBytes(byte[] bytes)
    {
        private int _at;

        public bool AtEnd => _at == bytes.Length;

        public ReadOnlySpan<byte> Take(int count, string what)
        {
            if (bytes.Length - _at < count)
            {
                throw new FuzzPropertyException("cut short", $"{what}: {count} bytes expected, {bytes.Length - _at} sent");
            }

            _at += count;
            return bytes.AsSpan(_at - count, count);
        }

        /// <summary>The server must have closed here: nothing more may have come.</summary>
        public string End(string outcome) =>
            AtEnd ? outcome : throw new FuzzPropertyException("after close", $"{outcome}, yet the server sent {bytes.Length - _at} more bytes: {Hex.Of(bytes.AsSpan(_at), 256)}");
    }
}
