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

    public NbdRequestValidator(long size, int maximumBlockSize, bool readOnly)
    {
        _size = (ulong)size;
        _maximum = (uint)maximumBlockSize;
        _readOnly = readOnly;
    }

    public NbdError Validate(in NbdRequest request)
    {
        NbdCommandFlags allowed = request.Command switch
        {
            NbdCommand.Read or NbdCommand.Write or NbdCommand.Trim or NbdCommand.Flush => NbdCommandFlags.Fua,
            NbdCommand.WriteZeroes => NbdCommandFlags.Fua | NbdCommandFlags.NoHole,
            _ => NbdCommandFlags.None,
        };

        // Unknown commands (CACHE and BLOCK_STATUS are not advertised) and flags not documented for
        // the command (DF and FAST_ZERO are not advertised) are refused. FUA is accepted on every
        // command, as the protocol requires once SEND_FUA is advertised.
        if (!IsKnown(request.Command) || (request.Flags & ~allowed) != 0)
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

        // The maximum binds the requests whose length travels as data (reads and writes). A trim or
        // write-zeroes may be longer, as the protocol allows: the server splits it into pieces.
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
        command is NbdCommand.Read or NbdCommand.Write or NbdCommand.Flush or NbdCommand.Trim or NbdCommand.WriteZeroes;
}
