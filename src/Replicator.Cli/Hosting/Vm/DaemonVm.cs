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
/// <remarks>
/// The node pauses the guest off its loop (<c>GuestPausesLater</c>) and goes on taking requests
/// until the pause returns, because QEMU waits for its disk — the node's own export — at a stop and
/// again when its migration ends (it drains and flushes every block device: a FLUSH to the export).
/// So the pause here is the whole of QEMU's part of the checkpoint: <c>stop</c>, then the device
/// state and the RAM diff; the capture the node asks for on its loop afterwards only hands over
/// what was taken, and never waits for QEMU.
/// </remarks>
internal sealed partial class DaemonVm : IVirtualMachine, IAsyncDisposable
{
    private readonly VmConfig _config;
    private readonly ILogger _log;
    private QemuVirtualMachine? _qemu;
    private readonly SemaphoreSlim _checkpoint = new(1, 1);
    private readonly string _consoleLog;
    private StreamWriter? _console;
    private GuestRun _run = GuestRun.NotRunning;
    private bool _pausedThisCheckpoint;
    private VmSnapshot? _taken;

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
        _consoleLog = consoleLog;
    }

    /// <summary>When the restored guest ran again (a <see cref="Stopwatch"/> timestamp); null unless restored.</summary>
    public long? RestoredRunningAt => _qemu?.RestoredRunningAt;

    /// <summary>Called once the guest runs again after a checkpoint's pause, with where the pause went.</summary>
    public Action<CheckpointTimings>? CheckpointTaken { get; set; }

    /// <summary>Where the restore's time went (null unless restored).</summary>
    public Replicator.Qemu.RestoreTimings? LastRestore => _qemu?.LastRestore;

    /// <summary>QEMU's process id while it runs (for logs and status).</summary>
    public int? ProcessId => _run == GuestRun.Running ? _qemu?.ProcessId : null;

    /// <summary>Boots the guest on <paramref name="export"/>, the node's export, which must serve already.</summary>
    public async Task StartAsync(System.Net.EndPoint export, CancellationToken cancellation)
    {
        // Booting takes seconds; checkpoints meanwhile capture nothing (the guest is not yet theirs),
        // so only the switch to checkpointing QEMU waits for a checkpoint to end.
        QemuVirtualMachine qemu = Create(export);
        await Failing("start", qemu.StartAsync(cancellation)).ConfigureAwait(false);
        await _checkpoint.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            Running();
            Log.Started(_log, qemu.ProcessId, qemu.Config.Disk?.File ?? "(none)");
        }
        finally
        {
            _checkpoint.Release();
        }
    }

    /// <summary>
    /// Starts QEMU for the restore that follows, on <paramref name="export"/>, while the node still
    /// reads the checkpoint's state: starting QEMU is the slow part of a restore.
    /// </summary>
    public Task PrepareRestoreAsync(System.Net.EndPoint export, CancellationToken cancellation) =>
        Failing("start for a restore", Create(export).PrepareRestoreAsync(cancellation));

    /// <summary>
    /// Starts the guest from <paramref name="state"/> (a checkpoint taken over) on
    /// <paramref name="export"/> and runs it, in the QEMU <see cref="PrepareRestoreAsync"/> started
    /// if it did; a state no QEMU checkpoint reached (no device state: the guest had not started
    /// when the checkpoint was taken) boots it instead.
    /// </summary>
    public async Task RestoreAsync(VmState state, System.Net.EndPoint export, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.CpuState.Length == 0)
        {
            Log.NothingToRestore(_log, state.Epoch);
            if (_qemu is { } prepared)
            {
                // Started for a restore that has nothing to load: a booting QEMU is another one.
                await prepared.DisposeAsync().ConfigureAwait(false);
                _qemu = null;
            }

            await StartAsync(export, cancellation).ConfigureAwait(false);
            return;
        }

        await _checkpoint.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            QemuVirtualMachine qemu = _qemu is { State: QemuVmState.AwaitingState } prepared ? prepared : Create(export);
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
        try
        {
            _pausedThisCheckpoint = _run == GuestRun.Running;
            if (_pausedThisCheckpoint)
            {
                long started = Stopwatch.GetTimestamp();
                _qemu!.PauseAsync().GetAwaiter().GetResult();

                // The epoch is the node's to say; it is set when the capture is asked for.
                _taken = _qemu.CaptureAsync(0, CaptureScope.Changes).GetAwaiter().GetResult();
                if (_qemu.LastCheckpoint is { } timings && timings.PagesCopied > 4096)
                {
                    Log.LargeCapture(_log, timings.PagesCopied, _taken.CpuState.Length, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                }
            }
        }
        catch
        {
            // Paused or not, the checkpoint's resume follows and releases the gate; the capture
            // then finds nothing taken and fails the checkpoint.
            _taken = null;
            throw;
        }
    }

    public VmSnapshot CaptureChanges(long epoch) => Capture(epoch, CaptureScope.Changes);

    public VmSnapshot CaptureAll(long epoch) => Capture(epoch, CaptureScope.All);

    /// <summary>The checkpoint is on the link: its pages go back to QEMU's page pool for the next pause's copy.</summary>
    public void Release(VmSnapshot snapshot) => _qemu?.Pages.Return(snapshot);

    public void ResumeExecution()
    {
        try
        {
            if (_pausedThisCheckpoint)
            {
                _qemu!.ResumeAsync().GetAwaiter().GetResult();
                if (_qemu.LastCheckpoint is { } timings)
                {
                    CheckpointTaken?.Invoke(timings);
                }
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

        if (_console is { } console)
        {
            lock (console)
            {
                console.Dispose();
            }
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

        VmSnapshot taken = _taken ?? throw new InvalidOperationException("QEMU's state was not captured at the pause (see the error before)");
        _taken = null;
        if (scope == CaptureScope.Changes)
        {
            return taken with { Epoch = epoch };
        }

        // Every page (a secondary being synced): copied from the paused guest's RAM, which the
        // pause's diff has already brought the shadow level with; the device state is the pause's.
        QemuVirtualMachine qemu = _qemu!;
        qemu.Pages.Return(taken);
        return new VmSnapshot(epoch, taken.CpuState, qemu.CopyAllPagesAsync().GetAwaiter().GetResult());
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

        // The guest's serial console, line by line, beside the node's state (which exists once the
        // node started): what an operator, or a test, reads to see the guest run. Appended, so a
        // restored guest's lines follow whatever an earlier guest of this node printed.
        var console = new StreamWriter(new FileStream(_consoleLog, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
        _console = console;
        _qemu!.Console.Follow(line =>
        {
            lock (console)
            {
                // A line after the node stopped (QEMU's last output) has nowhere to go.
                if (_run == GuestRun.Running)
                {
                    console.WriteLine(line);
                }
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

        [LoggerMessage(42, LogLevel.Information, "a checkpoint paused QEMU and captured {Pages} RAM pages and {DeviceBytes} bytes of device state in {Ms:F1} ms")]
        public static partial void LargeCapture(ILogger logger, long pages, int deviceBytes, double ms);
    }
}
