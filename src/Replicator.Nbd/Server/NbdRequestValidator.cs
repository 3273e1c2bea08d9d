using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>
/// Decides, before the backend sees it, whether a request is one the export accepts, and which error
/// the client gets when it is not. The rules follow the protocol's "SHOULD" error choices.
/// </summary>
internal sealed class NbdRequestValidator
{
    private readonly ulong _size;
    private readonly uint _maximum;
    private readonly bool _readOnly;
    private readonly NegotiatedFeatures _features;

    public NbdRequestValidator(long size, int maximumBlockSize, bool readOnly, NegotiatedFeatures features)
    {
        _size = (ulong)size;
        _maximum = (uint)maximumBlockSize;
        _readOnly = readOnly;
        _features = features;
    }

    public NbdError Validate(in NbdRequest request)
    {
        // FUA is accepted on every command, as the protocol requires once SEND_FUA is advertised.
        // The others only where documented and advertised to this client: DF on reads once
        // structured replies are on, FAST_ZERO on write-zeroes of a writable export, REQ_ONE on
        // block status.
        NbdCommandFlags allowed = request.Command switch
        {
            NbdCommand.Read when _features.StructuredReplies => NbdCommandFlags.Fua | NbdCommandFlags.DontFragment,
            NbdCommand.WriteZeroes when !_readOnly => NbdCommandFlags.Fua | NbdCommandFlags.NoHole | NbdCommandFlags.FastZero,
            NbdCommand.WriteZeroes => NbdCommandFlags.Fua | NbdCommandFlags.NoHole,
            NbdCommand.BlockStatus => NbdCommandFlags.Fua | NbdCommandFlags.RequestOne,
            _ => NbdCommandFlags.Fua,
        };

        // Unknown commands, and block status from a client that selected no metadata context (the
        // protocol's "SHOULD reply EINVAL"), are refused.
        if (!IsKnown(request.Command)
            || (request.Flags & ~allowed) != 0
            || (request.Command == NbdCommand.BlockStatus && !_features.AllocationContext))
        {
            return NbdError.Invalid;
        }

        bool changesData = request.Command is NbdCommand.Write or NbdCommand.Trim or NbdCommand.WriteZeroes;
        if (changesData && _readOnly)
        {
            return NbdError.NotPermitted;
        }

        if (request.Command == NbdCommand.Flush)
        {
            return request.Offset == 0 && request.Length == 0 ? NbdError.None : NbdError.Invalid;
        }

        if (request.Length == 0
            || request.Offset % NbdExport.MinimumBlockSize != 0
            || request.Length % NbdExport.MinimumBlockSize != 0)
        {
            return NbdError.Invalid;
        }

        // The maximum binds the requests whose length travels as data (reads and writes). A trim,
        // write-zeroes, cache or block status may be longer, as the protocol allows: the server
        // splits the first two into pieces, and describes or prefetches the others as asked.
        if (request.Length > _maximum && (request.Command is NbdCommand.Read or NbdCommand.Write))
        {
            return NbdError.Invalid;
        }

        if (request.Offset > _size || request.Length > _size - request.Offset)
        {
            return request.Command is NbdCommand.Write or NbdCommand.WriteZeroes ? NbdError.NoSpace : NbdError.Invalid;
        }

        return NbdError.None;
    }

    private static bool IsKnown(NbdCommand command) =>
        command is NbdCommand.Read or NbdCommand.Write or NbdCommand.Flush or NbdCommand.Trim or NbdCommand.WriteZeroes
            or NbdCommand.Cache or NbdCommand.BlockStatus;
}
