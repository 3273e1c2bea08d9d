using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// The handshake phase of one connection, fixed newstyle: greeting, client flags, then options until
/// the client picks the export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME) or aborts. Anything malformed
/// throws <see cref="NbdProtocolViolationException"/> and the connection closes.
/// </summary>
internal sealed class NbdNegotiation
{
    /// <summary>Names and descriptions are at most 4096 bytes, so no option this server reads is near this size.</summary>
    public const int MaxOptionBytes = 64 << 10;

    private const int OptionReplyHeaderSize = 20;
    private const int ExportNameReplyPadding = 124;

    private readonly Stream _input;
    private readonly Stream _output;
    private readonly NbdExport _export;
    private readonly ArrayBufferWriter<byte> _replies = new(256);
    private bool _fixedNewstyle;
    private bool _noZeroes;
    private bool _structuredReplies;
    private bool _allocationContext;

    public NbdNegotiation(Stream input, Stream output, NbdExport export)
    {
        _input = input;
        _output = output;
        _export = export;
    }

    /// <summary>The option that entered transmission (for the log).</summary>
    public NbdOption? SelectedBy { get; private set; }

    /// <summary>What the client negotiated; meaningful once the handshake entered transmission.</summary>
    public NegotiatedFeatures Features => new(_structuredReplies, _allocationContext);

    public async Task<NegotiationOutcome> RunAsync(CancellationToken cancellationToken)
    {
        byte[] greeting = new byte[18];
        BinaryPrimitives.WriteUInt64BigEndian(greeting, NbdMagic.InitPassword);
        BinaryPrimitives.WriteUInt64BigEndian(greeting.AsSpan(8), NbdMagic.Option);
        BinaryPrimitives.WriteUInt16BigEndian(greeting.AsSpan(16), (ushort)(NbdHandshakeFlags.FixedNewstyle | NbdHandshakeFlags.NoZeroes));
        await _output.WriteAsync(greeting, cancellationToken).ConfigureAwait(false);

        byte[] header = new byte[16];
        await _input.ReadExactlyAsync(header.AsMemory(0, 4), cancellationToken).ConfigureAwait(false);
        var clientFlags = (NbdClientFlags)BinaryPrimitives.ReadUInt32BigEndian(header);
        if ((clientFlags & ~(NbdClientFlags.FixedNewstyle | NbdClientFlags.NoZeroes)) != 0)
        {
            throw new NbdProtocolViolationException($"client flags 0x{(uint)clientFlags:x8} set bits this server did not offer");
        }

        _fixedNewstyle = clientFlags.HasFlag(NbdClientFlags.FixedNewstyle);
        _noZeroes = clientFlags.HasFlag(NbdClientFlags.NoZeroes);

        while (true)
        {
            await _input.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
            ulong magic = BinaryPrimitives.ReadUInt64BigEndian(header);
            var option = (NbdOption)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(8));
            uint length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(12));
            if (magic != NbdMagic.Option)
            {
                throw new NbdProtocolViolationException($"option magic 0x{magic:x16} is not IHAVEOPT: not an NBD client, or out of step");
            }

            if (!_fixedNewstyle && option != NbdOption.ExportName)
            {
                throw new NbdProtocolViolationException($"option {(uint)option} from a client without fixed newstyle, which may only send NBD_OPT_EXPORT_NAME");
            }

            if (length > MaxOptionBytes)
            {
                throw new NbdProtocolViolationException($"option {(uint)option} carries {length} bytes, more than the {MaxOptionBytes} this server reads");
            }

            byte[] data = new byte[length];
            await _input.ReadExactlyAsync(data, cancellationToken).ConfigureAwait(false);

            NegotiationOutcome? outcome = Answer(option, data);
            try
            {
                await _output.WriteAsync(_replies.WrittenMemory, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException) when (outcome == NegotiationOutcome.Aborted)
            {
                // A client may close right after NBD_OPT_ABORT without reading the ack.
            }

            _replies.ResetWrittenCount();
            if (outcome is not null)
            {
                return outcome.Value;
            }
        }
    }

    /// <summary>Queues the replies to one option; returns how the handshake ends, or null to go on.</summary>
    private NegotiationOutcome? Answer(NbdOption option, ReadOnlySpan<byte> data)
    {
        switch (option)
        {
            case NbdOption.ExportName:
                return SelectByExportName(data);
            case NbdOption.Abort:
                AppendReply(option, NbdOptionReplyType.Ack, default);
                return NegotiationOutcome.Aborted;
            case NbdOption.List:
                AnswerList(data);
                return null;
            case NbdOption.Info or NbdOption.Go:
                return AnswerInfo(option, data) && option == NbdOption.Go ? Select(option) : null;
            case NbdOption.StructuredReply:
                AnswerStructuredReply(data);
                return null;
            case NbdOption.ListMetaContext or NbdOption.SetMetaContext:
                AnswerMetaContext(option, data);
                return null;
            default:
                // STARTTLS and extended headers included: clients go on without them when refused.
                AppendError(option, NbdOptionReplyType.ErrorUnsupported, $"option {(uint)option} is not supported by this server");
                return null;
        }
    }

    private NegotiationOutcome SelectByExportName(ReadOnlySpan<byte> name)
    {
        if (!_export.IsNamed(name))
        {
            // NBD_OPT_EXPORT_NAME has no error reply: the protocol says to close.
            throw new NbdProtocolViolationException($"NBD_OPT_EXPORT_NAME asked for export '{Describe(name)}', which does not exist (this server exports '{_export.Name}')");
        }

        Span<byte> reply = _replies.GetSpan(10 + ExportNameReplyPadding);
        BinaryPrimitives.WriteUInt64BigEndian(reply, (ulong)_export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(reply[8..], (ushort)_export.FlagsFor(_structuredReplies));
        int length = 10;
        if (!_noZeroes)
        {
            reply.Slice(10, ExportNameReplyPadding).Clear();
            length += ExportNameReplyPadding;
        }

        _replies.Advance(length);
        return Select(NbdOption.ExportName);
    }

    private NegotiationOutcome Select(NbdOption option)
    {
        SelectedBy = option;
        return NegotiationOutcome.Transmission;
    }

    private void AnswerList(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty)
        {
            AppendError(NbdOption.List, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_LIST takes no data");
            return;
        }

        byte[] description = _export.DescriptionBytes ?? [];
        byte[] server = new byte[4 + _export.NameBytes.Length + description.Length];
        BinaryPrimitives.WriteUInt32BigEndian(server, (uint)_export.NameBytes.Length);
        _export.NameBytes.CopyTo(server, 4);
        description.CopyTo(server, 4 + _export.NameBytes.Length);
        AppendReply(NbdOption.List, NbdOptionReplyType.Server, server);
        AppendReply(NbdOption.List, NbdOptionReplyType.Ack, default);
    }

    /// <summary>Answers NBD_OPT_INFO or NBD_OPT_GO; true when it ended with an ack.</summary>
    private bool AnswerInfo(NbdOption option, ReadOnlySpan<byte> data)
    {
        // Data: name length (32), name, count of info requests (16), the requests (16 each).
        if (data.Length < 6 || BinaryPrimitives.ReadUInt32BigEndian(data) > (uint)(data.Length - 6))
        {
            AppendError(option, NbdOptionReplyType.ErrorInvalid, "the export name does not fit in the option");
            return false;
        }

        int nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
        ReadOnlySpan<byte> name = data.Slice(4, nameLength);
        ReadOnlySpan<byte> requests = data[(4 + nameLength + 2)..];
        int count = BinaryPrimitives.ReadUInt16BigEndian(data[(4 + nameLength)..]);
        if (requests.Length != 2 * count)
        {
            AppendError(option, NbdOptionReplyType.ErrorInvalid, $"{count} information requests announced, {requests.Length} bytes of them sent");
            return false;
        }

        if (!_export.IsNamed(name))
        {
            AppendError(option, NbdOptionReplyType.ErrorUnknown, $"no export named '{Describe(name)}' (this server exports '{_export.Name}')");
            return false;
        }

        bool wantsName = false;
        bool wantsDescription = false;
        for (int i = 0; i < count; i++)
        {
            switch ((NbdInfoType)BinaryPrimitives.ReadUInt16BigEndian(requests[(2 * i)..]))
            {
                case NbdInfoType.Name: wantsName = true; break;
                case NbdInfoType.Description: wantsDescription = true; break;
                default: break; // EXPORT and BLOCK_SIZE are always sent; unknown requests are ignored.
            }
        }

        Span<byte> info = stackalloc byte[14];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfoType.Export);
        BinaryPrimitives.WriteUInt64BigEndian(info[2..], (ulong)_export.Size);
        BinaryPrimitives.WriteUInt16BigEndian(info[10..], (ushort)_export.FlagsFor(_structuredReplies));
        AppendReply(option, NbdOptionReplyType.Info, info[..12]);

        // Sent even when not asked for: clients that asked (qemu, libnbd) then keep requests sector
        // aligned; the server refuses misaligned ones from the others with EINVAL.
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)NbdInfoType.BlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[2..], NbdExport.MinimumBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[6..], NbdExport.PreferredBlockSize);
        BinaryPrimitives.WriteUInt32BigEndian(info[10..], (uint)_export.MaximumBlockSize);
        AppendReply(option, NbdOptionReplyType.Info, info);

        if (wantsName)
        {
            AppendInfoString(option, NbdInfoType.Name, _export.NameBytes);
        }

        if (wantsDescription && _export.DescriptionBytes is not null)
        {
            AppendInfoString(option, NbdInfoType.Description, _export.DescriptionBytes);
        }

        AppendReply(option, NbdOptionReplyType.Ack, default);
        return true;
    }

    private void AnswerStructuredReply(ReadOnlySpan<byte> data)
    {
        if (!data.IsEmpty)
        {
            AppendError(NbdOption.StructuredReply, NbdOptionReplyType.ErrorInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
            return;
        }

        _structuredReplies = true;
        AppendReply(NbdOption.StructuredReply, NbdOptionReplyType.Ack, default);
    }

    /// <summary>
    /// NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT. The one context is
    /// <c>base:allocation</c>; listing with no query (or the query <c>base:</c>) names it. Setting
    /// replaces the selection: a query list without it selects nothing, and block status is then
    /// refused. Unknown namespaces are not errors, they just match nothing.
    /// </summary>
    private void AnswerMetaContext(NbdOption option, ReadOnlySpan<byte> data)
    {
        if (!_structuredReplies)
        {
            AppendError(option, NbdOptionReplyType.ErrorInvalid, "metadata contexts need NBD_OPT_STRUCTURED_REPLY first");
            return;
        }

        // Data: name length (32), name, count of queries (32), each query's length (32) and text.
        if (!MetaContextQuery.TryParse(data, out ReadOnlySpan<byte> name, out MetaContextQuery? query, out string? problem))
        {
            AppendError(option, NbdOptionReplyType.ErrorInvalid, problem);
            return;
        }

        if (!_export.IsNamed(name))
        {
            AppendError(option, NbdOptionReplyType.ErrorUnknown, $"no export named '{Describe(name)}' (this server exports '{_export.Name}')");
            return;
        }

        bool listing = option == NbdOption.ListMetaContext;
        bool matched = listing ? query.Lists(NegotiatedFeatures.AllocationContextName) : query.Selects(NegotiatedFeatures.AllocationContextName);
        if (!listing)
        {
            _allocationContext = matched;
        }

        if (matched)
        {
            // Listing gives id 0, as the protocol asks; selecting gives the id block status replies carry.
            byte[] context = new byte[4 + NegotiatedFeatures.AllocationContextName.Length];
            BinaryPrimitives.WriteUInt32BigEndian(context, listing ? 0 : NegotiatedFeatures.AllocationContextId);
            Encoding.UTF8.GetBytes(NegotiatedFeatures.AllocationContextName, context.AsSpan(4));
            AppendReply(option, NbdOptionReplyType.MetaContext, context);
        }

        AppendReply(option, NbdOptionReplyType.Ack, default);
    }

    private void AppendInfoString(NbdOption option, NbdInfoType type, byte[] text)
    {
        byte[] info = new byte[2 + text.Length];
        BinaryPrimitives.WriteUInt16BigEndian(info, (ushort)type);
        text.CopyTo(info, 2);
        AppendReply(option, NbdOptionReplyType.Info, info);
    }

    private void AppendError(NbdOption option, NbdOptionReplyType type, string message) =>
        AppendReply(option, type, Encoding.UTF8.GetBytes(message));

    private void AppendReply(NbdOption option, NbdOptionReplyType type, ReadOnlySpan<byte> data)
    {
        Span<byte> reply = _replies.GetSpan(OptionReplyHeaderSize + data.Length);
        BinaryPrimitives.WriteUInt64BigEndian(reply, NbdMagic.OptionReply);
        BinaryPrimitives.WriteUInt32BigEndian(reply[8..], (uint)option);
        BinaryPrimitives.WriteUInt32BigEndian(reply[12..], (uint)type);
        BinaryPrimitives.WriteUInt32BigEndian(reply[16..], (uint)data.Length);
        data.CopyTo(reply[OptionReplyHeaderSize..]);
        _replies.Advance(OptionReplyHeaderSize + data.Length);
    }

    private static string Describe(ReadOnlySpan<byte> name) => Encoding.UTF8.GetString(name);
}
