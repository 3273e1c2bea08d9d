using System.Buffers.Binary;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>
/// What an NBD server (fixed newstyle, this export) must send back for a client's byte stream,
/// checked against what it did send: the greeting; for each whole option, replies that echo it and
/// end in an ack or an error (an ack only for options the server implements, for INFO/GO only after
/// the export's information, for STRUCTURED_REPLY only without data, for the meta-context options
/// only once structured replies are on); the export-name reply; then, in transmission, exactly one
/// reply per request received, with the error the protocol's rules give (EINVAL, ENOSPC, ENOTSUP),
/// a read's data, and, once structured replies are on, chunks that cover a read exactly, block
/// status within the request for the context the server named; and nothing after the point where
/// the server must close.
/// </summary>
internal static class NbdReplyModel
{
    private const uint TypeAck = 1;
    private const uint TypeServer = 2;
    private const uint TypeInfo = 3;
    private const uint TypeMetaContext = 4;
    private const ushort ChunkOffsetData = 1;
    private const ushort ChunkOffsetHole = 2;
    private const ushort ChunkBlockStatus = 5;
    private const ushort ChunkError = 0x8001;
    private const ushort ChunkDone = 1;
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
        var session = new Session();
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
                    if (BinaryPrimitives.ReadUInt64BigEndian(reply) != NbdServerHarness.ExportSize || !FlagsFit(BinaryPrimitives.ReadUInt16BigEndian(reply[8..]), session))
                    {
                        throw new FuzzPropertyException("export-name", $"reply {Convert.ToHexString(reply)}");
                    }

                    if (!noZeroes && server.Take(124, "export-name padding").ContainsAnyExcept((byte)0))
                    {
                        throw new FuzzPropertyException("export-name", "padding is not zeroes");
                    }

                    return Transmission(input, at, server, session);
                case NbdWire.OptAbort:
                    if (ReadOptionReply(server, option, out _) != TypeAck)
                    {
                        throw new FuzzPropertyException("option reply", "NBD_OPT_ABORT not acked");
                    }

                    return server.End("negotiation: aborted");
                default:
                    if (AnswerOption(server, option, data.Length, session))
                    {
                        return Transmission(input, at, server, session);
                    }

                    break;
            }
        }
    }

    /// <summary>What the client has negotiated, as the server's replies told it.</summary>
    private sealed class Session
    {
        public bool Structured { get; set; }

        /// <summary>The id the server gave <c>base:allocation</c> in its last SET_META_CONTEXT, or null when none is selected.</summary>
        public uint? AllocationContext { get; set; }
    }

    /// <summary>HAS_FLAGS always; DF exactly when structured replies are on (the protocol forbids it otherwise).</summary>
    private static bool FlagsFit(ushort flags, Session session) =>
        (flags & 1) != 0 && ((flags & NbdWire.TransmissionFlagDontFragment) != 0) == session.Structured;

    /// <summary>Reads the replies to one option; true when it was an acked NBD_OPT_GO.</summary>
    private static bool AnswerOption(ServerBytes server, uint option, int dataLength, Session session)
    {
        bool sawExport = false;
        uint? context = null;
        while (true)
        {
            uint type = ReadOptionReply(server, option, out byte[] data);
            switch (type)
            {
                case TypeInfo when option is NbdWire.OptInfo or NbdWire.OptGo:
                    if (data.Length >= 2 && BinaryPrimitives.ReadUInt16BigEndian(data) == NbdWire.InfoExport)
                    {
                        if (data.Length != 12 || BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(2)) != NbdServerHarness.ExportSize
                            || !FlagsFit(BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(10)), session))
                        {
                            throw new FuzzPropertyException("option reply", $"export information {Convert.ToHexString(data)}");
                        }

                        sawExport = true;
                    }

                    continue;
                case TypeServer when option == NbdWire.OptList:
                    continue;
                case TypeMetaContext when option is NbdWire.OptListMetaContext or NbdWire.OptSetMetaContext && session.Structured:
                    uint id = data.Length >= 4 ? BinaryPrimitives.ReadUInt32BigEndian(data) : 0;
                    if (data.Length < 4 || !data.AsSpan(4).SequenceEqual("base:allocation"u8) || (option == NbdWire.OptListMetaContext ? id != 0 : id == 0) || context is not null)
                    {
                        throw new FuzzPropertyException("option reply", $"meta context {Convert.ToHexString(data)} to option {option}");
                    }

                    context = id;
                    continue;
                case TypeAck when option is NbdWire.OptList:
                    return false;
                case TypeAck when option is NbdWire.OptInfo or NbdWire.OptGo && sawExport:
                    return option == NbdWire.OptGo;
                case TypeAck when option is NbdWire.OptStructuredReply && dataLength == 0:
                    session.Structured = true;
                    return false;
                case TypeAck when option is NbdWire.OptListMetaContext or NbdWire.OptSetMetaContext && session.Structured:
                    if (option == NbdWire.OptSetMetaContext)
                    {
                        session.AllocationContext = context;
                    }

                    return false;
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

    /// <summary>The error the protocol's rules give a request on this export (1 MiB, 16 KiB payloads, writable, zeroing not fast).</summary>
    private static uint ExpectedError(ushort flags, ushort command, ulong offset, uint length, Session session)
    {
        const uint invalid = 22;
        const uint noSpace = 28;
        const uint notSupported = 95;
        ushort allowed = command switch
        {
            NbdWire.CmdRead => (ushort)(NbdWire.FlagFua | (session.Structured ? NbdWire.FlagDontFragment : 0)),
            NbdWire.CmdWrite or NbdWire.CmdTrim or NbdWire.CmdFlush or NbdWire.CmdCache => NbdWire.FlagFua,
            NbdWire.CmdWriteZeroes => NbdWire.FlagFua | NbdWire.FlagNoHole | NbdWire.FlagFastZero,
            NbdWire.CmdBlockStatus => NbdWire.FlagFua | NbdWire.FlagRequestOne,
            _ => 0,
        };
        bool known = command is NbdWire.CmdRead or NbdWire.CmdWrite or NbdWire.CmdFlush or NbdWire.CmdTrim or NbdWire.CmdWriteZeroes or NbdWire.CmdCache or NbdWire.CmdBlockStatus;
        if (!known || (flags & ~allowed) != 0 || (command == NbdWire.CmdBlockStatus && session.AllocationContext is null))
        {
            return invalid;
        }

        if (command == NbdWire.CmdFlush)
        {
            return offset == 0 && length == 0 ? 0 : invalid;
        }

        if (length == 0 || offset % 512 != 0 || length % 512 != 0 || (length > NbdServerHarness.MaxPayload && command is NbdWire.CmdRead or NbdWire.CmdWrite))
        {
            return invalid;
        }

        if ((UInt128)offset + length > NbdServerHarness.ExportSize)
        {
            return command is NbdWire.CmdWrite or NbdWire.CmdWriteZeroes ? noSpace : invalid;
        }

        return command == NbdWire.CmdWriteZeroes && (flags & NbdWire.FlagFastZero) != 0 ? notSupported : 0;
    }

    /// <summary>One request waiting for its reply, and for a structured read, the sectors its chunks covered so far.</summary>
    private sealed record Pending(ulong Handle, ushort Flags, ushort Command, ulong Offset, uint Length, uint Error, string Request)
    {
        public bool[]? Covered { get; set; }
    }

    private static string Transmission(byte[] input, int at, ServerBytes server, Session session)
    {
        var pending = new List<Pending>();
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
                if (length > NbdServerHarness.MaxPayload && length > MaxSkippedPayload)
                {
                    break;
                }

                if (input.Length - at < length)
                {
                    break;
                }

                at += (int)length;
            }

            pending.Add(new Pending(handle, flags, command, offset, length, ExpectedError(flags, command, offset, length, session), $"command {command} flags {flags} at {offset}+{length}"));
        }

        int replies = 0;
        while (!server.AtEnd)
        {
            uint magic = BinaryPrimitives.ReadUInt32BigEndian(server.Peek(4, "reply magic"));
            bool simple = magic == NbdWire.SimpleReplyMagic;
            if (!simple && (magic != NbdWire.StructuredReplyMagic || !session.Structured))
            {
                throw new FuzzPropertyException("reply", $"reply magic {magic:x8}{(session.Structured ? "" : " (structured replies were not negotiated)")}");
            }

            ulong handle = BinaryPrimitives.ReadUInt64BigEndian(server.Peek(16, "reply header")[8..]);
            var candidates = pending.Where(p => p.Handle == handle).ToList();
            if (candidates.Count == 0)
            {
                throw new FuzzPropertyException("reply", $"a reply to handle {handle}, which no request waiting has");
            }

            if (candidates.Count > 1)
            {
                return $"transmission, requests sharing a handle";
            }

            Pending request = candidates[0];
            bool done = simple ? SimpleReply(server, request, session) : Chunk(server, request, session);
            if (done)
            {
                pending.Remove(request);
                replies++;
            }
        }

        if (pending.Count > 0)
        {
            throw new FuzzPropertyException("missing reply", $"{pending.Count} requests received got no whole reply, first: {pending[0].Request}");
        }

        return $"transmission, {replies switch { 0 => "0", 1 => "1", < 6 => "2-5", _ => "6+" }} replies";
    }

    /// <summary>A simple reply: the expected error; a read's data unless structured replies are on, which forbid a simple reply to a read.</summary>
    private static bool SimpleReply(ServerBytes server, Pending request, Session session)
    {
        ReadOnlySpan<byte> header = server.Take(16, "simple reply");
        uint error = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        if (session.Structured && request.Command is NbdWire.CmdRead or NbdWire.CmdBlockStatus)
        {
            throw new FuzzPropertyException("reply", $"{request.Request} got a simple reply with structured replies on");
        }

        if (error != request.Error)
        {
            throw new FuzzPropertyException("reply error", $"{request.Request} got error {error}, the rules give {request.Error}");
        }

        server.Take(request.Command == NbdWire.CmdRead && error == 0 ? (int)request.Length : 0, "read data");
        return true;
    }

    /// <summary>One structured chunk; true when it ends the reply.</summary>
    private static bool Chunk(ServerBytes server, Pending request, Session session)
    {
        ReadOnlySpan<byte> header = server.Take(20, "chunk header");
        ushort flags = BinaryPrimitives.ReadUInt16BigEndian(header[4..]);
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(header[6..]);
        ReadOnlySpan<byte> payload = server.Take((int)BinaryPrimitives.ReadUInt32BigEndian(header[16..]), "chunk payload");
        bool done = (flags & ChunkDone) != 0;
        if ((flags & ~ChunkDone) != 0)
        {
            throw new FuzzPropertyException("chunk", $"{request.Request}: chunk flags {flags:x4}");
        }

        if (type == ChunkError)
        {
            uint error = payload.Length >= 6 ? BinaryPrimitives.ReadUInt32BigEndian(payload) : 0;
            if (payload.Length < 6 || payload.Length != 6 + BinaryPrimitives.ReadUInt16BigEndian(payload[4..]) || !done || error != request.Error || error == 0)
            {
                throw new FuzzPropertyException("reply error", $"{request.Request}: error chunk {Convert.ToHexString(payload)}, the rules give {request.Error}");
            }

            return true;
        }

        if (request.Error != 0)
        {
            throw new FuzzPropertyException("reply error", $"{request.Request}: chunk type {type}, the rules give error {request.Error}");
        }

        switch (type)
        {
            case ChunkOffsetData or ChunkOffsetHole when request.Command == NbdWire.CmdRead:
                ulong offset = payload.Length >= 8 ? BinaryPrimitives.ReadUInt64BigEndian(payload) : 0;
                long length = type == ChunkOffsetData ? payload.Length - 8 : payload.Length == 12 ? BinaryPrimitives.ReadUInt32BigEndian(payload[8..]) : -1;
                bool fragmentForbidden = (request.Flags & NbdWire.FlagDontFragment) != 0 && (type == ChunkOffsetHole || (ulong)length != request.Length);
                if (payload.Length < 8 || length <= 0 || offset < request.Offset || offset + (ulong)length > request.Offset + request.Length || fragmentForbidden)
                {
                    throw new FuzzPropertyException("read chunk", $"{request.Request}: chunk type {type} at {offset}+{length}{(fragmentForbidden ? " despite DF" : "")}");
                }

                Cover(request, offset, (ulong)length);
                if (done && request.Covered!.Contains(false))
                {
                    throw new FuzzPropertyException("read chunk", $"{request.Request}: the last chunk came with bytes not covered");
                }

                return done;
            case ChunkBlockStatus when request.Command == NbdWire.CmdBlockStatus:
                int extents = (payload.Length - 4) / 8;
                long total = 0;
                for (int i = 0; i < extents; i++)
                {
                    uint extent = BinaryPrimitives.ReadUInt32BigEndian(payload[(4 + (8 * i))..]);
                    total = extent == 0 ? long.MaxValue : total + extent;
                }

                if (payload.Length < 12 || (payload.Length - 4) % 8 != 0 || BinaryPrimitives.ReadUInt32BigEndian(payload) != session.AllocationContext
                    || total > request.Length || ((request.Flags & NbdWire.FlagRequestOne) != 0 && extents != 1) || !done)
                {
                    throw new FuzzPropertyException("block status", $"{request.Request}: {Convert.ToHexString(payload)}");
                }

                return true;
            default:
                throw new FuzzPropertyException("chunk", $"{request.Request}: chunk type {type}");
        }
    }

    /// <summary>Marks the sectors a read chunk covers; a sector covered twice breaks the protocol.</summary>
    private static void Cover(Pending request, ulong offset, ulong length)
    {
        request.Covered ??= new bool[request.Length / 512];
        if (offset % 512 != 0 || length % 512 != 0)
        {
            throw new FuzzPropertyException("read chunk", $"{request.Request}: a chunk at {offset}+{length} is not sector aligned");
        }

        for (ulong sector = (offset - request.Offset) / 512; sector < (offset - request.Offset + length) / 512; sector++)
        {
            if (request.Covered[sector])
            {
                throw new FuzzPropertyException("read chunk", $"{request.Request}: two chunks cover {request.Offset + (sector * 512)}");
            }

            request.Covered[sector] = true;
        }
    }

    private sealed class ServerBytes(byte[] bytes)
    {
        private int _at;

        public bool AtEnd => _at == bytes.Length;

        /// <summary>The next bytes, left in place.</summary>
        public ReadOnlySpan<byte> Peek(int count, string what) =>
            bytes.Length - _at >= count ? bytes.AsSpan(_at, count) : throw new FuzzPropertyException("cut short", $"{what}: {count} bytes expected, {bytes.Length - _at} sent");

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
