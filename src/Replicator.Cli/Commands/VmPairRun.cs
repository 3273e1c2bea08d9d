using System.Diagnostics;
using System.Text.RegularExpressions;
using Replicator.Qemu.Guests;
using Replicator.Runtime.Control;
using Replicator.Runtime.Links;

namespace Replicator.Cli.Commands;

/// <summary>
/// A pair of daemons protecting the counting guest (<see cref="CountingGuest"/>), as
/// <c>demo --vm</c> and <c>bench --vm</c> run it: a secondary and a primary over TCP on
/// 127.0.0.1 with their exports on Unix sockets, each with its VM configuration, in a temporary
/// directory; the guest's RAM files on /dev/shm. Started, it is in its steady state: the guest
/// counts and the first checkpoint of the running guest (all of its RAM) is acknowledged.
/// Disposing it kills both daemons and their QEMUs and deletes every file.
/// </summary>
internal sealed partial class VmPairRun : IAsyncDisposable
{
    private const long DiskBytes = 16L << 20;

    private readonly TaskCompletionSource<string> _resumed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string[] _ramFiles;
    private Process? _secondary;
    private Process? _primary;

    private VmPairRun(string directory)
    {
        Directory = directory;
        // Named after the run's directory: runs side by side (a demo and a bench) never share one.
        _ramFiles = [$"/dev/shm/{Path.GetFileName(directory)}-primary.ram", $"/dev/shm/{Path.GetFileName(directory)}-secondary.ram"];
    }

    /// <summary>Bound of every wait, never a target: a guest under TCG on a loaded host is slow.</summary>
    public static TimeSpan Bound { get; } = TimeSpan.FromMinutes(3);

    public static long DiskMiB => DiskBytes >> 20;

    public string Directory { get; }

    public string PrimaryState => Path.Combine(Directory, "primary-state");

    public string SecondaryState => Path.Combine(Directory, "secondary-state");

    public string SecondaryImage => Path.Combine(Directory, "secondary.img");

    /// <summary>The guest's console on the primary, then on the node that resumed it.</summary>
    public string PrimaryConsole => Path.Combine(PrimaryState, "vm-console.log");

    public string SecondaryConsole => Path.Combine(SecondaryState, "vm-console.log");

    public Process Primary => _primary ?? throw new InvalidOperationException("the primary has not started");

    public Process Secondary => _secondary ?? throw new InvalidOperationException("the secondary has not started");

    /// <summary>The promoted node's line saying the guest runs again, and how long it took.</summary>
    public Task<string> Resumed => _resumed.Task;

    /// <summary>
    /// Builds the guest (throws <see cref="CountingGuestBuildException"/> when it cannot), starts the
    /// pair checkpointing every <paramref name="epochMs"/> ms and returns it in its steady state.
    /// Warnings of the daemons go to <paramref name="output"/>.
    /// </summary>
    public static async Task<VmPairRun> StartAsync(TextWriter output, int epochMs, string name)
    {
        CountingGuestFiles guest = CountingGuestBuilder.Build(CountingGuestBuilder.DefaultDirectory);
        var run = new VmPairRun(System.IO.Directory.CreateTempSubdirectory($"replicator-{name}-").FullName);
        try
        {
            await run.StartInAsync(guest, epochMs, output).ConfigureAwait(false);
            return run;
        }
        catch
        {
            await run.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Kills the primary daemon and its QEMU (its child) at once: SIGKILL.</summary>
    public void KillPrimary() => ChildProcess.Stop(Primary);

    public async ValueTask DisposeAsync()
    {
        foreach (Process? process in (Process?[])[_primary, _secondary])
        {
            if (process is not null)
            {
                ChildProcess.Stop(process);
                process.Dispose();
            }
        }

        // The RAM files first: 128 MiB of tmpfs each, they must not outlive a directory that would not go.
        foreach (string ram in _ramFiles)
        {
            File.Delete(ram);
        }

        await Task.Run(() => System.IO.Directory.Delete(Directory, recursive: true)).ConfigureAwait(false);
    }

    private async Task StartInAsync(CountingGuestFiles guest, int epochMs, TextWriter output)
    {
        string primaryImage = Path.Combine(Directory, "primary.img");
        await File.WriteAllBytesAsync(primaryImage, new byte[DiskBytes]).ConfigureAwait(false);
        await File.WriteAllBytesAsync(SecondaryImage, new byte[DiskBytes]).ConfigureAwait(false);
        string linkKey = Path.Combine(Directory, "pair.key");
        LinkKey.Generate(linkKey);
        string primaryVm = Path.Combine(Directory, "primary-vm.json"), secondaryVm = Path.Combine(Directory, "secondary-vm.json");
        await File.WriteAllTextAsync(primaryVm, CountingGuest.Config(guest, Directory, "primary", _ramFiles[0])).ConfigureAwait(false);
        await File.WriteAllTextAsync(secondaryVm, CountingGuest.Config(guest, Directory, "secondary", _ramFiles[1])).ConfigureAwait(false);
        int port = ChildProcess.FreePort();

        // A whole-RAM checkpoint (the first) is one 128 MiB frame: the link's silence bounds leave room for it.
        string[] common = ["--link-key", linkKey, "--ram-kb", $"{CountingGuest.MemoryMiB * 1024}", "--heartbeat-timeout-ms", "10000", "--ack-timeout-ms", "10000", "--vm", "qemu"];
        (_secondary, Task secondaryReady) = ChildProcess.Start(output, "listening for the primary", line =>
            {
                if (ResumedLine().Match(line) is { Success: true } m)
                {
                    _resumed.TrySetResult(m.Value);
                }
            },
            ["secondary", "--image", SecondaryImage, "--listen", $"127.0.0.1:{port}", "--state-dir", SecondaryState, "--nbd", $"unix:{Path.Combine(Directory, "secondary-nbd.sock")}", .. common, "--vm-config", secondaryVm]);
        await secondaryReady.WaitAsync(Bound).ConfigureAwait(false);
        (_primary, Task qemuStarted) = ChildProcess.Start(output, "QEMU started", null,
            ["primary", "--image", primaryImage, "--peer", $"127.0.0.1:{port}", "--state-dir", PrimaryState, "--nbd", $"unix:{Path.Combine(Directory, "primary-nbd.sock")}",
             "--skip-initial-sync", "--epoch-ms", $"{epochMs}", .. common, "--vm-config", primaryVm]);
        await qemuStarted.WaitAsync(Bound).ConfigureAwait(false);

        using var bound = new CancellationTokenSource(Bound);
        await CountingGuestConsoleWatch.WaitAsync(PrimaryConsole, c => c.Count >= 10, _primary.WaitForExitAsync(CancellationToken.None), bound.Token).ConfigureAwait(false);

        // Each `checkpoint` returns once acknowledged: the guest's first (all of its RAM) is by then too.
        await ControlClient.SendAsync(PrimaryState, "checkpoint", bound.Token).ConfigureAwait(false);
    }

    [GeneratedRegex(@"the guest runs again from checkpoint \d+, \d+ ms after the promotion[^\n]*")]
    private static partial Regex ResumedLine();
}
