using Replicator.Qemu.Guests;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator build-guest [--out DIR]</c>: builds the counting guest, or says which package is missing.</summary>
internal static class BuildGuestCommand
{
    public static int Run(string? directory, TextWriter output, TextWriter error)
    {
        try
        {
            CountingGuestFiles guest = CountingGuestBuilder.Build(directory ?? CountingGuestBuilder.DefaultDirectory);
            output.WriteLine($"the counting guest: {guest.Kernel} and {guest.Initrd} (kernel {guest.KernelVersion})");
            return 0;
        }
        catch (Exception e) when (e is CountingGuestBuildException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"replicator build-guest: {e.Message}");
            return 1;
        }
    }
}
