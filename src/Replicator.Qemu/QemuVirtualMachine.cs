using System.Text.Json.Nodes;
using Replicator.Core.Vm;
using Replicator.Qemu.Config;
using Replicator.Qemu.Migration;
using Replicator.Qemu.Processes;
using Replicator.Qemu.Qmp;
using Replicator.Qemu.Ram;

namespace Replicator.Qemu;

/// <summary>
/// A real QEMU guest behind <see cref="IVirtualMachine"/>. Pause is QMP <c>stop</c> (which also
/// drains the guest's in-flight block I/O); a capture compares the guest's RAM, a shared file,
/// with a shadow copy and takes the pages that differ, while QEMU migrates only its device state
/// (RAM is left out by the <c>x-ignore-shared</c> capability) into a socket the adapter reads;
/// resume is <c>cont</c>. On the node taking over, <see cref="RestoreAsync"/> writes a checkpoint's
/// RAM into the RAM file, starts QEMU waiting for an incoming migration, feeds it the device state
/// and continues the guest.
/// </summary>
/// <remarks>
/// <para>
/// <see cref="IVirtualMachine"/> is synchronous, QMP is not. The interface's methods block on
/// the asynchronous ones, and every wait inside has the configuration's command timeout, so a
/// blocked caller gets an exception in bounded time, never a hang; callers that can await use the
/// *Async methods. Blocking is safe here because nothing in the adapter needs the caller's thread
/// to make progress (no synchronization context, continuations run on the thread pool).
/// </para>
/// <para>
/// The vCPU state travels inside the device state: QEMU's migration stream carries the CPUs as
/// devices. It fills <see cref="VmSnapshot.CpuState"/>, which is opaque to the core.
/// </para>
/// </remarks>
public sealed class QemuVirtualMachine : IVirtualMachine, IAsyncDisposable
{
    public const int PageSize = 4096;

    // QEMU 7.2's device state for a small PC guest is ~0.2-0.4 MiB (most of it the BIOS ROM, which
    // is not in the shared RAM); far more means something migrates RAM it should not. The same
    // bound as the pair's link leaves for it beside the RAM (LinkLimits.MaxCpuStateBytes), so a
    // device state the adapter takes always fits a checkpoint's frame.
    private const int MaxDeviceStateBytes = 4 << 20;

    private readonly VmConfig _config;
    private readonly IQemuLauncher _launcher;
    private readonly TimeProvider _time;
    private readonly int _parallelism;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private IQemuInstance? _qemu;
    private GuestRamFile? _ram;
    private ShadowRam? _shadow;
    private DeviceStateListener? _deviceState;
    private TimeSpan _lastStop;
    private QemuVmState _state = QemuVmState.NotStarted;

    public QemuVirtualMachine(VmConfig config, IQemuLauncher? launcher = null, TimeProvider? time = null, int parallelism = 0)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _time = time ?? TimeProvider.System;
        _launcher = launcher ?? new QemuLauncher(_time);
        _parallelism = parallelism;
        // Enough for a whole RAM's pages to come back after the first checkpoint, and no more.
        Pages = new PagePool(PageSize, (int)Math.Min(config.RamBytes / PageSize, 1 << 19));
    }

    public VmConfig Config => _config;

    /// <summary>The guest's state as the adapter drove it, or <see cref="QemuVmState.Gone"/> once QEMU exited.</summary>
    public QemuVmState State
    {
        get => _qemu is { Exited.IsCompleted: true } ? QemuVmState.Gone : _state;
        private set => _state = value;
    }

    /// <summary>The buffers captured pages come in; give a snapshot's pages back once done with it.</summary>
    public PagePool Pages { get; }

    /// <summary>The running QEMU's serial console.</summary>
    public QemuConsole Console => Qemu.Console;

    public int ProcessId => Qemu.ProcessId;

    public QemuVersion QemuVersion => Qemu.Qmp.Version;

    /// <summary>When a restored guest ran again (QEMU answered <c>cont</c>), on the adapter's clock's timestamps; null before.</summary>
    public long? RestoredRunningAt { get; private set; }

    private TimeSpan _preparedIn;

    /// <summary>Where the restore's time went up to the guest running (null unless restored).</summary>
    public RestoreTimings? LastRestore { get; private set; }

    /// <summary>Where the last checkpoint's pause went (null before the first).</summary>
    public CheckpointTimings? LastCheckpoint { get; private set; }

    private IQemuInstance Qemu => _qemu ?? throw new InvalidOperationException("QEMU is not started");

    /// <summary>Boots the guest in a new QEMU on a fresh, zeroed RAM file.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.NotStarted, "boot");
            GuestRamFile.CreateEmpty(_config.RamFile, _config.RamBytes);
            try
            {
                await LaunchAsync(LaunchMode.Boot, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await TearDownAsync().ConfigureAwait(false);
                throw;
            }

            State = QemuVmState.Running;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the vCPUs; QEMU drains in-flight block I/O before it answers.</summary>
    public async Task PauseAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.Running, "pause");
            long started = _time.GetTimestamp();
            await RunAsync("stop", null, cancellationToken).ConfigureAwait(false);
            _lastStop = _time.GetElapsedTime(started);
            State = QemuVmState.Paused;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Continues the vCPUs after a capture.</summary>
    public async Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.Paused, "resume");
            long started = _time.GetTimestamp();
            await RunAsync("cont", null, cancellationToken).ConfigureAwait(false);
            State = QemuVmState.Running;
            if (LastCheckpoint is { } last)
            {
                LastCheckpoint = last with { Resume = _time.GetElapsedTime(started) };
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Every page of the paused guest's RAM, copied from the adapter's mapping into buffers from
    /// <see cref="Pages"/>: a whole capture for a checkpoint whose device state and changes a
    /// <see cref="CaptureAsync"/> of this same pause took already (a daemon learns only then that
    /// the secondary needs everything). Memory to memory, with no file read and no array of the
    /// RAM's size.
    /// </summary>
    public async Task<IReadOnlyList<VmPage>> CopyAllPagesAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.Paused, "copy the RAM of");
            ReadOnlySpan<byte> ram = _ram!.Span;
            var pages = new VmPage[ram.Length / PageSize];
            for (int i = 0; i < pages.Length; i++)
            {
                byte[] page = Pages.Rent();
                ram.Slice(i * PageSize, PageSize).CopyTo(page);
                pages[i] = new VmPage(i, page);
            }

            return pages;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Captures the paused guest: the RAM pages that differ from the shadow (or every page) and the
    /// device state. The device state's migration is started first so QEMU writes it while the
    /// RAM is being compared.
    /// </summary>
    public async Task<VmSnapshot> CaptureAsync(long epoch, CaptureScope scope, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.Paused, "capture");
            long started = _time.GetTimestamp();
            IQmpClient qmp = Qemu.Qmp;
            using var limit = new CancellationTokenSource(_config.CommandTimeout, _time);
            using var receiving = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token);
            Task<QmpEvent> finished = qmp.WaitForEventAsync(IsFinalMigrationEvent, "the end of the device state's migration", _config.CommandTimeout, cancellationToken);
            // Listening starts with the first capture: on a node that restored, QEMU itself held
            // the socket's path while the device state came in.
            _deviceState ??= new DeviceStateListener(_config.MigrationSocket, MaxDeviceStateBytes);
            long deviceDone = 0;
            Task<byte[]> received = _deviceState.ReceiveAsync(receiving.Token);
            _ = received.ContinueWith(_ => Interlocked.Exchange(ref deviceDone, _time.GetTimestamp()), TaskScheduler.Default);
            byte[] device;
            RamCapture? ram = null;
            TimeSpan diff;
            try
            {
                await RunAsync("migrate", new JsonObject { ["uri"] = _deviceState.Uri }, cancellationToken).ConfigureAwait(false);
                long diffStarted = _time.GetTimestamp();
                ram = CaptureRam(scope);
                diff = _time.GetElapsedTime(diffStarted);
                await ExpectCompleted(finished).ConfigureAwait(false);
                device = await received.ConfigureAwait(false);
                if (Interlocked.Read(ref deviceDone) == 0)
                {
                    Interlocked.Exchange(ref deviceDone, _time.GetTimestamp());
                }
            }
            catch
            {
                // Whatever failed, stop listening for this checkpoint's stream and observe both tasks.
                await receiving.CancelAsync().ConfigureAwait(false);

                // The shadow may have moved on to pages nobody will receive: the next capture must
                // take every page again, or the changes of this one would be lost.
                _shadow!.Invalidate();
                foreach (VmPage page in ram?.Pages ?? [])
                {
                    Pages.Return(page.Data);
                }

                _ = received.ContinueWith(t => t.Exception, TaskScheduler.Default);
                _ = finished.ContinueWith(t => t.Exception, TaskScheduler.Default);
                throw;
            }

            TimeSpan capture = _time.GetElapsedTime(started);
            TimeSpan deviceTime = _time.GetElapsedTime(started, Interlocked.Read(ref deviceDone));
            LastCheckpoint = new CheckpointTimings(_lastStop, diff, deviceTime, capture, TimeSpan.Zero, ram.PagesCompared, ram.PagesCopied, device.Length);
            return new VmSnapshot(epoch, device, ram.Pages);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Starts QEMU for a restore before the state to restore is known: a zeroed RAM file, QEMU
    /// launched with <c>-S -incoming defer</c> mapping it. Starting QEMU is the slow part of a
    /// restore (its binary, the machine, the ROMs), so a node taking over does it while it reads
    /// the checkpoint's state; <see cref="RestoreAsync"/> then writes the RAM into the same file
    /// and loads the device state.
    /// </summary>
    public async Task PrepareRestoreAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Expect(QemuVmState.NotStarted, "prepare a restore of");
            long started = _time.GetTimestamp();
            GuestRamFile.CreateEmpty(_config.RamFile, _config.RamBytes);
            try
            {
                await LaunchAsync(LaunchMode.Incoming, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                await TearDownAsync().ConfigureAwait(false);
                throw;
            }

            _preparedIn = _time.GetElapsedTime(started);
            State = QemuVmState.AwaitingState;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Restores the guest from <paramref name="state"/> and runs it: the RAM into the RAM file, QEMU
    /// started with <c>-S -incoming defer</c> (unless <see cref="PrepareRestoreAsync"/> did), the
    /// device state through the migration socket, then <c>cont</c>.
    /// </summary>
    public async Task RestoreAsync(VmState state, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Ram.Length != _config.RamBytes || state.PageSize != PageSize)
        {
            throw new ArgumentException($"the VM state holds {state.Ram.Length} bytes of RAM in {state.PageSize}-byte pages; this guest has {_config.RamBytes} in {PageSize}-byte pages", nameof(state));
        }

        if (state.CpuState.Length == 0)
        {
            throw new ArgumentException("the VM state has no device state: it was not captured from QEMU", nameof(state));
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool prepared = State == QemuVmState.AwaitingState;
            if (!prepared)
            {
                Expect(QemuVmState.NotStarted, "restore");
            }

            long started = _time.GetTimestamp();
            TimeSpan launch = TimeSpan.Zero;
            try
            {
                if (prepared)
                {
                    // QEMU maps the file already: written in place, it sees the RAM before it loads anything.
                    GuestRamFile.WriteInPlace(_config.RamFile, state.Ram);
                    launch = _preparedIn;
                }
                else
                {
                    GuestRamFile.WriteImage(_config.RamFile, state.Ram);
                }

                long written = _time.GetTimestamp();
                if (!prepared)
                {
                    await LaunchAsync(LaunchMode.Incoming, cancellationToken).ConfigureAwait(false);
                    launch = _time.GetElapsedTime(written);
                }

                long launched = _time.GetTimestamp();
                IQmpClient qmp = Qemu.Qmp;
                Task<QmpEvent> finished = qmp.WaitForEventAsync(IsFinalMigrationEvent, "the end of the incoming device state", _config.CommandTimeout, cancellationToken);
                await RunAsync("migrate-incoming", new JsonObject { ["uri"] = "unix:" + _config.MigrationSocket }, cancellationToken).ConfigureAwait(false);
                using (var limit = new CancellationTokenSource(_config.CommandTimeout, _time))
                using (var sending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, limit.Token))
                {
                    await DeviceStateSender.SendAsync(_config.MigrationSocket, state.CpuState, sending.Token).ConfigureAwait(false);
                }

                await ExpectCompleted(finished).ConfigureAwait(false);
                long loaded = _time.GetTimestamp();
                await RunAsync("cont", null, cancellationToken).ConfigureAwait(false);
                RestoredRunningAt = _time.GetTimestamp();
                LastRestore = new RestoreTimings(_time.GetElapsedTime(started, written), launch, _time.GetElapsedTime(launched, loaded), _time.GetElapsedTime(loaded, RestoredRunningAt.Value), prepared);

                // After the guest runs again, not before: the shadow is the restored state (what the
                // node taking over holds), not the live RAM, so filling it may follow the guest's
                // start, and with the page buffers it is off the failover's path. The gate is held
                // until both are done, so no capture comes before.
                _shadow = new ShadowRam(_config.RamBytes, PageSize, _parallelism);
                _shadow.Fill(state.Ram);
                _ram!.Prefault(PageSize);
                Pages.Reserve((int)(_config.RamBytes / PageSize));
            }
            catch
            {
                // A half-restored QEMU never runs: it is killed, and the restore may be tried again.
                await TearDownAsync().ConfigureAwait(false);
                State = QemuVmState.NotStarted;
                throw;
            }

            State = QemuVmState.Running;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills QEMU (SIGKILL) as a host failure would; the adapter is of no further use.</summary>
    public void Kill()
    {
        _qemu?.Kill();
        State = QemuVmState.Gone;
    }

    void IVirtualMachine.Pause() => PauseAsync().GetAwaiter().GetResult();

    void IVirtualMachine.ResumeExecution() => ResumeAsync().GetAwaiter().GetResult();

    VmSnapshot IVirtualMachine.CaptureChanges(long epoch) => CaptureAsync(epoch, CaptureScope.Changes).GetAwaiter().GetResult();

    VmSnapshot IVirtualMachine.CaptureAll(long epoch) => CaptureAsync(epoch, CaptureScope.All).GetAwaiter().GetResult();

    void IVirtualMachine.Restore(VmState state) => RestoreAsync(state).GetAwaiter().GetResult();

    /// <summary>Kills QEMU if it runs (SIGKILL: a stop that leaves nothing half done) and frees the shadow and mappings.</summary>
    public async ValueTask DisposeAsync()
    {
        State = QemuVmState.Gone;
        _deviceState?.Dispose();
        await TearDownAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private async Task TearDownAsync()
    {
        if (_qemu is not null)
        {
            await _qemu.DisposeAsync().ConfigureAwait(false);
            _qemu = null;
        }

        _ram?.Dispose();
        _ram = null;
        _shadow?.Dispose();
        _shadow = null;
    }

    private static bool IsFinalMigrationEvent(QmpEvent e) => e.Name == "MIGRATION" && MigrationStatuses.Parse(e.Status).IsFinal();

    private static async Task ExpectCompleted(Task<QmpEvent> finished)
    {
        QmpEvent end = await finished.ConfigureAwait(false);
        MigrationStatus status = MigrationStatuses.Parse(end.Status);
        if (status != MigrationStatus.Completed)
        {
            throw new MigrationFailedException(status, "see QEMU's standard error for its reason");
        }
    }

    private async Task LaunchAsync(LaunchMode mode, CancellationToken cancellationToken)
    {
        // A restoring QEMU listens on the migration socket itself; a stale socket file from a
        // QEMU that died is removed first (QEMU would remove it too, this makes it certain).
        File.Delete(_config.MigrationSocket);
        _qemu = await _launcher.LaunchAsync(_config, mode, cancellationToken).ConfigureAwait(false);

        // Both sides of every migration: leave shared RAM out, and report progress as events so
        // the end of a migration is awaited rather than polled.
        await RunAsync("migrate-set-capabilities", new JsonObject
        {
            ["capabilities"] = new JsonArray(
                new JsonObject { ["capability"] = "x-ignore-shared", ["state"] = true },
                new JsonObject { ["capability"] = "events", ["state"] = true }),
        }, cancellationToken).ConfigureAwait(false);
        _ram = GuestRamFile.Open(_config.RamFile, _config.RamBytes);
        if (mode == LaunchMode.Boot)
        {
            // A restore does all three once the guest runs again (RestoreAsync): the shadow's first
            // touch of its memory alone took ~0.6 s of a failover's path here.
            _shadow = new ShadowRam(_config.RamBytes, PageSize, _parallelism);
            _ram.Prefault(PageSize);
            Pages.Reserve((int)(_config.RamBytes / PageSize));
        }
    }

    private unsafe RamCapture CaptureRam(CaptureScope scope) => _shadow!.Capture(_ram!.Start, scope, Pages);

    private Task<System.Text.Json.JsonElement> RunAsync(string command, JsonObject? arguments, CancellationToken cancellationToken) =>
        Qemu.Qmp.ExecuteAsync(command, arguments, _config.CommandTimeout, cancellationToken);

    private void Expect(QemuVmState state, string action)
    {
        if (State != state)
        {
            throw new InvalidOperationException($"cannot {action} a guest that is {State} (needs {state})");
        }
    }
}
