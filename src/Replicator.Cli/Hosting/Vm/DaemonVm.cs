using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Replicator.Core.Vm;
using Replicator.Qemu;
using Replicator.Qemu.Config;
using Replicator.Qemu.Ram;

namespace Replicator.Cli.Hosting.Vm;

/// <summary>
/// The QEMU guest a primary daemon runs, as its node sees it through <see cref="IVirtualMachine"/>.
/// The node starts (and checkpoints) before QEMU can: QEMU's disk is the node's export, which
/// serves only once the node has started. Until QEMU runs, a checkpoint captures nothing (there is
/// no guest yet, so no guest write either); once it runs, every checkpoint pauses, captures and
/// resumes it, the first one taking every page. A checkpoint and QEMU's start exclude each other,
/// so one checkpoint never pauses a guest that was not running and resumes one that is.
/// </summary>
internal sealed partial class DaemonVm : IVirtualMachine, IAsyncDisposable
{
    private readonly VmConfig _config;
    private readonly ILogger _log;
    private QemuVirtualMachine? _qemu;
    private readonly SemaphoreSlim _checkpoint = new(1, 1);
    private readonly StreamWriter? _console;
    private GuestRun _run = GuestRun.NotRunning;
    private bool _pausedThisCheckpoint;

    /// <summary>Whether QEMU is the guest checkpoints capture.</summary>
    private enum GuestRun
    {
        NotRunning,
        Running,
        Stopped,
    }

    public DaemonVm(VmConfig config, string consoleLog, ILogger log)
    {
        _config = config;
        _log = log;

        // The guest's serial console, line by line, beside the node's state: what an operator (or a
        // test) reads to see the guest run. Appended, so a restored guest's lines follow the old one's.
        _console = new StreamWriter(new FileStream(consoleLog, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <summary>QEMU's process id while it runs (for logs and status).</summary>
    public int? ProcessId => _run == GuestRun.Running ? _qemu?.ProcessId : null;

    /// <summary>Boots the guest on <paramref name="export"/>, the node's export, which must serve already.</summary>
    public async Task StartAsync(System.Net.EndPoint export, CancellationToken cancellation)
    {
        await _checkpoint.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            QemuVirtualMachine qemu = Create(export);
            await Failing("start", qemu.StartAsync(cancellation)).ConfigureAwait(false);
            Running();
            Log.Started(_log, qemu.ProcessId, qemu.Config.Disk?.File ?? "(none)");
        }
        finally
        {
            _checkpoint.Release();
        }
    }

    /// <summary>
    /// Starts the guest from <paramref name="state"/> (a checkpoint taken over) on
    /// <paramref name="export"/> and runs it; a state no QEMU checkpoint reached (no device
    /// state: the guest had not started when the checkpoint was taken) boots it instead.
    /// </summary>
    public async Task RestoreAsync(VmState state, System.Net.EndPoint export, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.CpuState.Length == 0)
        {
            Log.NothingToRestore(_log, state.Epoch);
            await StartAsync(export, cancellation).ConfigureAwait(false);
            return;
        }

        await _checkpoint.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            QemuVirtualMachine qemu = Create(export);
            await Failing("restore", qemu.RestoreAsync(state, cancellation)).ConfigureAwait(false);
            Running();
            Log.Restored(_log, qemu.ProcessId, state.Epoch, qemu.Config.Disk?.File ?? "(none)");
        }
        finally
        {
            _checkpoint.Release();
        }
    }

    public void Pause()
    {
        _checkpoint.Wait();
        _pausedThisCheckpoint = _run == GuestRun.Running;
        if (_pausedThisCheckpoint)
        {
            _qemu!.PauseAsync().GetAwaiter().GetResult();
        }
    }

    public VmSnapshot CaptureChanges(long epoch) => Capture(epoch, CaptureScope.Changes);

    public VmSnapshot CaptureAll(long epoch) => Capture(epoch, CaptureScope.All);

    public void ResumeExecution()
    {
        try
        {
            if (_pausedThisCheckpoint)
            {
                _qemu!.ResumeAsync().GetAwaiter().GetResult();
            }
        }
        finally
        {
            _pausedThisCheckpoint = false;
            _checkpoint.Release();
        }
    }

    /// <summary>The node restores through <see cref="RestoreAsync"/>, after its export serves; never through the engine.</summary>
    public void Restore(VmState state) => throw new InvalidOperationException("the daemon restores its QEMU guest itself, once its export serves");

    /// <summary>Stops QEMU (SIGKILL: the pair holds the checkpoints, nothing in QEMU needs saving).</summary>
    public async ValueTask DisposeAsync()
    {
        _run = GuestRun.Stopped;
        if (_qemu is not null)
        {
            await _qemu.DisposeAsync().ConfigureAwait(false);
        }

        if (_console is not null)
        {
            await _console.DisposeAsync().ConfigureAwait(false);
        }

        _checkpoint.Dispose();
    }

    private VmSnapshot Capture(long epoch, CaptureScope scope)
    {
        // No guest yet: nothing to capture, as with the disk-only VM.
        if (!_pausedThisCheckpoint)
        {
            return new VmSnapshot(epoch, [], []);
        }

        long started = Stopwatch.GetTimestamp();
        VmSnapshot snapshot = _qemu!.CaptureAsync(epoch, scope).GetAwaiter().GetResult();
        if (_qemu.LastCheckpoint is { } timings && timings.PagesCopied > 4096)
        {
            Log.LargeCapture(_log, epoch, timings.PagesCopied, snapshot.CpuState.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        return snapshot;
    }

    /// <summary>The adapter for one QEMU, its disk the node's export as it listens now (a port 0 is known only then).</summary>
    private QemuVirtualMachine Create(System.Net.EndPoint export)
    {
        if (_qemu is not null)
        {
            throw new InvalidOperationException("QEMU was started already on this node");
        }

        string uri = DaemonVmSettings.ExportUri(export) ?? throw new InvalidOperationException($"QEMU cannot name the export {export} as its disk");
        VmConfig config = _config with { Disk = new DiskConfig(uri, DiskFormat.Raw, _config.Disk?.Cache ?? DiskCache.None) };
        _qemu = new QemuVirtualMachine(config);
        return _qemu;
    }

    /// <summary>QEMU's failures, whatever their type, as the one the daemon reports and stops on.</summary>
    private static async Task Failing(string what, Task step)
    {
        try
        {
            await step.ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException and not InvalidOperationException)
        {
            throw new InvalidOperationException($"QEMU could not {what}: {e.Message}", e);
        }
    }

    private void Running()
    {
        _run = GuestRun.Running;
        _qemu!.Console.Follow(line =>
        {
            lock (_console!)
            {
                _console.WriteLine(line);
            }
        });
    }

    private static partial class Log
    {
        [LoggerMessage(40, LogLevel.Information, "QEMU started (pid {Pid}), the guest's disk on {Disk}")]
        public static partial void Started(ILogger logger, int pid, string disk);

        [LoggerMessage(41, LogLevel.Warning, "QEMU restored (pid {Pid}) from checkpoint {Epoch}, the guest's disk on {Disk}")]
        public static partial void Restored(ILogger logger, int pid, long epoch, string disk);

        [LoggerMessage(43, LogLevel.Warning, "the checkpoint taken over ({Epoch}) holds no QEMU device state (the guest had not started): booting the guest from its disk")]
        public static partial void NothingToRestore(ILogger logger, long epoch);

        [LoggerMessage(42, LogLevel.Information, "checkpoint {Epoch} captured {Pages} RAM pages and {DeviceBytes} bytes of device state in {Ms:F1} ms")]
        public static partial void LargeCapture(ILogger logger, long epoch, long pages, int deviceBytes, double ms);
    }
}
