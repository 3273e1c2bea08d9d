using Replicator.Qemu.Guests;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// The daemon pair protecting the counting guest (<c>--vm qemu</c>): the primary runs it on its own
/// export (a Unix socket) and checkpoints it every 50 ms; the secondary runs no QEMU until it is
/// promoted. Disposing stops both and deletes the guest's RAM files.
/// </summary>
internal sealed class VmPair : IAsyncDisposable
{
    private const string RamKb = "131072";

    private readonly string _primaryVm;
    private readonly string _secondaryVm;
    private readonly string _primaryRam;
    private readonly string _secondaryRam;
    private ReplicatorProcess? _primary;

    private VmPair(DaemonPair daemons, CountingGuestFiles guest, bool heavyWrites)
    {
        Daemons = daemons;
        daemons.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        string directory = Path.GetDirectoryName(daemons.PrimaryImage)!;
        _primaryVm = CountingGuestConfig.Write(guest, directory, "primary", out _primaryRam, heavyWrites);
        _secondaryVm = CountingGuestConfig.Write(guest, directory, "secondary", out _secondaryRam, heavyWrites);
    }

    public DaemonPair Daemons { get; }

    /// <summary>The primary daemon, QEMU its child.</summary>
    public ReplicatorProcess Primary => _primary ?? throw new InvalidOperationException("the primary is not started");

    public ReplicatorProcess Secondary => Daemons.Secondary ?? throw new InvalidOperationException("the secondary is not started");

    /// <summary>The guest's console while the primary runs it.</summary>
    public string PrimaryConsole => Path.Combine(Daemons.PrimaryState, "vm-console.log");

    /// <summary>The guest's console once the promoted secondary resumed it.</summary>
    public string SecondaryConsole => Path.Combine(Daemons.SecondaryState, "vm-console.log");

    // A whole-RAM checkpoint is one 128 MiB frame: the link's silence bound leaves room for it.
    private static string[] CommonOptions => ["--vm", "qemu", "--ram-kb", RamKb, "--heartbeat-timeout-ms", "10000", "--ack-timeout-ms", "10000"];

    /// <summary>The secondary, then the primary with the guest booting on its export (with <paramref name="heavyWrites"/>, the guest also writes 8 MiB at a time without pause).</summary>
    public static async Task<VmPair> StartAsync(bool heavyWrites = false)
    {
        CountingGuestFiles guest = CountingGuestConfig.Build();
        var pair = new VmPair(new DaemonPair { PrimaryOnUnixSocket = true }, guest, heavyWrites);
        try
        {
            await pair.StartSecondaryAsync();
            pair.StartPrimary();
            await pair.Primary.WaitForOutputAsync("QEMU started");
            return pair;
        }
        catch
        {
            await pair.DisposeAsync();
            throw;
        }
    }

    /// <summary>The secondary again on the same image and state directory, after it died.</summary>
    public async Task RestartSecondaryAsync()
    {
        Assert.True(Secondary.HasExited, "the secondary still runs");
        await Secondary.DisposeAsync();
        await StartSecondaryAsync();
    }

    /// <summary>Checkpoints until one <paramref name="epochs"/> epochs after the first is acknowledged (interval checkpoints come between); returns the last acknowledged.</summary>
    public async Task<long> CheckpointAcrossAsync(int epochs)
    {
        long first = await Daemons.CheckpointAsync();
        long last = first;
        while (last < first + epochs)
        {
            last = await Daemons.CheckpointAsync();
        }

        return last;
    }

    public async ValueTask DisposeAsync()
    {
        // The daemons are stopped (or killed) by now or here; the guest's RAM files are 128 MiB of
        // tmpfs each and would outlive them.
        try
        {
            if (_primary is not null)
            {
                await _primary.DisposeAsync();
            }

            await Daemons.DisposeAsync();
        }
        finally
        {
            File.Delete(_primaryRam);
            File.Delete(_secondaryRam);
        }
    }

    private async Task StartSecondaryAsync()
    {
        Daemons.StartSecondary([.. CommonOptions, "--vm-config", _secondaryVm]);
        await Secondary.WaitForOutputAsync("listening for the primary");
    }

    // Started here rather than by DaemonPair.StartPrimary: the guest is checkpointed every 50 ms.
    private void StartPrimary() =>
        _primary = ReplicatorProcess.Start([
            "primary", "--image", Daemons.PrimaryImage, "--peer", $"127.0.0.1:{Daemons.SecondaryPort}", "--nbd", $"unix:{Daemons.PrimarySocket}",
            "--state-dir", Daemons.PrimaryState, "--skip-initial-sync", "--link-key", Daemons.LinkKey, "--epoch-ms", "50", .. CommonOptions, "--vm-config", _primaryVm]);
}
