using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>The message an error chunk carries to a human (qemu prints it), for each error a request can get.</summary>
internal static class NbdErrorText
{
    public static string Describe(NbdCommand command, NbdError error) => error switch
    {
        NbdError.Invalid => "invalid request: unknown command or flag, misaligned, out of range or too long, or block status without the base:allocation context selected",
        NbdError.NoSpace => "the request runs past the end of the export",
        NbdError.NotPermitted => "the export is read-only",
        NbdError.NotSupported => command == NbdCommand.WriteZeroes
            ? "zeroing on this export is not faster than writing (FAST_ZERO)"
            : "not supported by this export",
        NbdError.Shutdown => "the server is shutting down",
        NbdError.IoError => "I/O error in the server's storage",
        _ => $"error {(uint)error}",
    };
}
