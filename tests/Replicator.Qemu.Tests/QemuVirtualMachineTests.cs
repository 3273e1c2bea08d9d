using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using NSubstitute;
using NSubstitute.ExceptionExtensions;
using Replicator.Core.Vm;
using Replicator.Qemu.Config;
using Replicator.Qemu.Migration;
using Replicator.Qemu.Processes;
using Replicator.Qemu.Qmp;
using Replicator.Qemu.Ram;

namespace Replicator.Qemu.Tests;

/// <summary>The adapter's sequencing against a substituted QEMU: which QMP commands each step sends, and how failures surface.</summary>
public sealed class QemuVirtualMachineTests : IAsyncDisposable
{
    private const int MemoryMiB = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("qvm-").FullName;
    private readonly IQmpClient _qmp = Substitute.For<IQmpClient>();
    private readonly IQemuInstance _qemu = Substitute.For<IQemuInstance>();
    private readonly IQemuLauncher _launcher = Substitute.For<IQemuLauncher>();
    private readonly TaskCompletionSource _exited = new();
    private readonly List<string> _commands = [];
    private TaskCompletionSource<QmpEvent> _migrationEnd = NewMigrationEnd();
    private readonly VmConfig _config;
    private readonly QemuVirtualMachine _vm;

    public QemuVirtualMachineTests()
    {
        File.WriteAllText(Path.Combine(_dir, "vmlinuz"), "k");
        _config = VmConfigFile.Parse($$"""{"memoryMiB": {{MemoryMiB}}, "boot": {"kernel": "vmlinuz"}, "qmpSocket": "q", "ramFile": "ram"}""", _dir);
        _qemu.Qmp.Returns(_qmp);
        _qemu.Exited.Returns(_exited.Task);
        _qemu.Console.Returns(new QemuConsole(TimeProvider.System));
        _launcher.LaunchAsync(Arg.Any<VmConfig>(), Arg.Any<LaunchMode>(), Arg.Any<CancellationToken>()).Returns(_qemu);
        _qmp.ExecuteAsync(Arg.Do<string>(_commands.Add), Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .Returns(Task.FromResult(default(JsonElement)));
        // Each wait for a migration's end gets the current one; a fresh one is made after each end.
        _qmp.WaitForEventAsync(Arg.Any<Func<QmpEvent, bool>>(), Arg.Any<string>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .Returns(_ => Volatile.Read(ref _migrationEnd).Task);
        _vm = new QemuVirtualMachine(_config, _launcher);
    }

    public async ValueTask DisposeAsync()
    {
        await _vm.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Booting_sets_both_migration_capabilities_before_anything_else()
    {
        await _vm.StartAsync();

        await _launcher.Received(1).LaunchAsync(_config, LaunchMode.Boot, Arg.Any<CancellationToken>());
        Assert.Equal(["migrate-set-capabilities"], _commands);
        await _qmp.Received(1).ExecuteAsync(
            "migrate-set-capabilities",
            Arg.Is<JsonObject?>(a => a!.ToJsonString().Contains("\"x-ignore-shared\"", StringComparison.Ordinal) && a.ToJsonString().Contains("\"events\"", StringComparison.Ordinal)),
            Arg.Any<TimeSpan?>(),
            Arg.Any<CancellationToken>());
        Assert.Equal(QemuVmState.Running, _vm.State);
        Assert.Equal((long)MemoryMiB << 20, new FileInfo(_config.RamFile).Length);
    }

    [Fact]
    public async Task Pause_is_stop_and_resume_is_cont()
    {
        await _vm.StartAsync();
        IVirtualMachine vm = _vm;

        vm.Pause();
        Assert.Equal(QemuVmState.Paused, _vm.State);
        vm.ResumeExecution();

        Assert.Equal(["migrate-set-capabilities", "stop", "cont"], _commands);
        Assert.Equal(QemuVmState.Running, _vm.State);
    }

    [Fact]
    public async Task A_capture_of_a_running_guest_is_refused()
    {
        await _vm.StartAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => _vm.CaptureAsync(1, CaptureScope.Changes));
        await Assert.ThrowsAsync<InvalidOperationException>(() => _vm.ResumeAsync());
        Assert.DoesNotContain("migrate", _commands);
    }

    [Fact]
    public async Task A_refused_stop_surfaces_with_QEMU_s_reason_and_the_guest_still_counts_as_running()
    {
        await _vm.StartAsync();
        _qmp.ExecuteAsync("stop", Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new QmpCommandException("stop", QmpErrorClass.GenericError, "no"));

        QmpCommandException error = Assert.Throws<QmpCommandException>(() => ((IVirtualMachine)_vm).Pause());
        Assert.Equal("stop", error.Command);
        Assert.Equal(QemuVmState.Running, _vm.State);
    }

    [Fact]
    public async Task A_QEMU_that_died_fails_the_pause_at_once_and_the_guest_is_gone()
    {
        await _vm.StartAsync();
        _qmp.ExecuteAsync("stop", Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new QmpConnectionClosedException("QEMU closed the QMP connection"));
        _exited.SetResult();

        Assert.Equal(QemuVmState.Gone, _vm.State);
        await Assert.ThrowsAsync<InvalidOperationException>(() => _vm.PauseAsync());
    }

    [Fact]
    public async Task A_capture_takes_the_RAM_and_the_device_state_QEMU_migrates_into_the_socket()
    {
        byte[] deviceState = [.. Enumerable.Range(0, 70_000).Select(i => (byte)i)];
        MigrateSends(deviceState, "completed");
        await _vm.StartAsync();
        await _vm.PauseAsync();

        VmSnapshot first = await _vm.CaptureAsync(1, CaptureScope.Changes);
        Assert.Equal(deviceState, first.CpuState);
        Assert.Equal((MemoryMiB << 20) / QemuVirtualMachine.PageSize, first.Pages.Count);
        await _qmp.Received(1).ExecuteAsync("migrate", Arg.Is<JsonObject?>(a => (string?)a!["uri"] == "unix:" + _config.MigrationSocket), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>());

        VmSnapshot second = await _vm.CaptureAsync(2, CaptureScope.Changes);
        Assert.Empty(second.Pages);
        Assert.Equal(deviceState, second.CpuState);
        Assert.Equal(deviceState.Length, _vm.LastCheckpoint!.DeviceStateBytes);
        await _vm.ResumeAsync();
    }

    [Fact]
    public async Task Every_page_of_the_paused_guest_is_copied_as_the_RAM_holds_it_and_only_while_paused()
    {
        MigrateSends([7], "completed");
        await _vm.StartAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(() => _vm.CopyAllPagesAsync());

        // What the guest wrote, as QEMU's shared mapping of the RAM file would hold it.
        using (var ram = new FileStream(_config.RamFile, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            ram.Position = (5 * QemuVirtualMachine.PageSize) + 3;
            ram.WriteByte(0x5A);
        }

        await _vm.PauseAsync();
        await _vm.CaptureAsync(1, CaptureScope.Changes);
        IReadOnlyList<VmPage> pages = await _vm.CopyAllPagesAsync();

        Assert.Equal((MemoryMiB << 20) / QemuVirtualMachine.PageSize, pages.Count);
        Assert.Equal(Enumerable.Range(0, pages.Count).Select(i => (long)i), pages.Select(p => p.Index));
        Assert.Equal(0x5A, pages[5].Data.Span[3]);
        Assert.All(pages.Where(p => p.Index != 5), p => Assert.True(p.Data.Span.IndexOfAnyExcept((byte)0) < 0));
        await _vm.ResumeAsync();
    }

    [Fact]
    public async Task A_failed_migration_fails_the_capture_with_its_status()
    {
        MigrateSends([7], "completed");
        await _vm.StartAsync();
        await _vm.PauseAsync();
        await _vm.CaptureAsync(1, CaptureScope.Changes);

        MigrateSends([], "failed");
        MigrationFailedException error = await Assert.ThrowsAsync<MigrationFailedException>(() => _vm.CaptureAsync(2, CaptureScope.Changes));
        Assert.Equal(MigrationStatus.Failed, error.Status);
        Assert.Equal(QemuVmState.Paused, _vm.State);

        // The failed capture's RAM diff reached nobody: the next one takes every page again.
        MigrateSends([7], "completed");
        VmSnapshot next = await _vm.CaptureAsync(3, CaptureScope.Changes);
        Assert.Equal((MemoryMiB << 20) / QemuVirtualMachine.PageSize, next.Pages.Count);
    }

    [Fact]
    public async Task A_restore_is_refused_for_a_state_of_another_size_or_without_device_state()
    {
        var small = new VmState(1 << 20, QemuVirtualMachine.PageSize);
        await Assert.ThrowsAsync<ArgumentException>(() => _vm.RestoreAsync(small));

        var empty = new VmState((long)MemoryMiB << 20, QemuVirtualMachine.PageSize);
        await Assert.ThrowsAsync<ArgumentException>(() => _vm.RestoreAsync(empty));
        await _launcher.DidNotReceiveWithAnyArgs().LaunchAsync(default!, default, default);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_restore_writes_the_RAM_starts_QEMU_incoming_feeds_it_the_device_state_and_continues(bool startedAhead)
    {
        var state = new VmState((long)MemoryMiB << 20, QemuVirtualMachine.PageSize);
        byte[] page = new byte[QemuVirtualMachine.PageSize];
        page[0] = 0x42;
        state.Apply(new VmSnapshot(1, [1, 2, 3, 4], [new VmPage(3, page)]));
        Task<byte[]> fed = Task.FromResult<byte[]>([]);
        _qmp.ExecuteAsync("migrate-incoming", Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .Returns(_ =>
            {
                // QEMU listens on the migration socket once migrate-incoming returns.
                var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                listener.Bind(new UnixDomainSocketEndPoint(_config.MigrationSocket));
                listener.Listen(1);
                fed = ReadAllAsync(listener);
                return Task.FromResult(default(JsonElement));
            });

        FileStream? mappedByQemu = null;
        if (startedAhead)
        {
            await _vm.PrepareRestoreAsync();
            Assert.Equal(QemuVmState.AwaitingState, _vm.State);
            Assert.Equal(["migrate-set-capabilities"], _commands);

            // QEMU maps the RAM file from its start: the RAM must reach that very file.
            mappedByQemu = new FileStream(_config.RamFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        }

        await _vm.RestoreAsync(state);

        await _launcher.Received(1).LaunchAsync(_config, LaunchMode.Incoming, Arg.Any<CancellationToken>());
        if (mappedByQemu is not null)
        {
            using (mappedByQemu)
            {
                mappedByQemu.Position = 3 * QemuVirtualMachine.PageSize;
                Assert.Equal(0x42, mappedByQemu.ReadByte());
            }

            Assert.True(_vm.LastRestore!.LaunchedAhead);
        }

        Assert.Equal(["migrate-set-capabilities", "migrate-incoming", "cont"], _commands);
        Assert.Equal([1, 2, 3, 4], await fed);
        byte[] ram = File.ReadAllBytes(_config.RamFile);
        Assert.Equal(0x42, ram[3 * QemuVirtualMachine.PageSize]);
        Assert.Equal(QemuVmState.Running, _vm.State);
    }

    [Fact]
    public async Task A_restore_QEMU_refuses_kills_the_half_restored_QEMU_and_may_be_tried_again()
    {
        var state = new VmState((long)MemoryMiB << 20, QemuVirtualMachine.PageSize);
        state.Apply(new VmSnapshot(1, [1], []));
        _qmp.ExecuteAsync("migrate-incoming", Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .ThrowsAsync(new QmpCommandException("migrate-incoming", QmpErrorClass.GenericError, "no"));

        await Assert.ThrowsAsync<QmpCommandException>(() => _vm.RestoreAsync(state));

        await _qemu.Received(1).DisposeAsync();
        Assert.Equal(QemuVmState.NotStarted, _vm.State);
        await Assert.ThrowsAsync<QmpCommandException>(() => _vm.RestoreAsync(state));
        await _launcher.Received(2).LaunchAsync(_config, LaunchMode.Incoming, Arg.Any<CancellationToken>());
    }

    private void MigrateSends(byte[] deviceState, string status)
    {
        _qmp.ExecuteAsync("migrate", Arg.Any<JsonObject?>(), Arg.Any<TimeSpan?>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                _ = SendAsync(deviceState, status);
                return Task.FromResult(default(JsonElement));
            });
    }

    private static TaskCompletionSource<QmpEvent> NewMigrationEnd() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Reports the current migration's end and readies a fresh one for the next wait.</summary>
    private void EndMigration(string status) => Interlocked.Exchange(ref _migrationEnd, NewMigrationEnd()).SetResult(Migration(status));

    // What QEMU does for `migrate uri=unix:PATH`: connect, write the stream, report the end, close.
    private async Task SendAsync(byte[] deviceState, string status)
    {
        if (status == "completed")
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(_config.MigrationSocket));
            await socket.SendAsync(deviceState, SocketFlags.None);
            socket.Shutdown(SocketShutdown.Both);
        }

        EndMigration(status);
    }

    private async Task<byte[]> ReadAllAsync(Socket listener)
    {
        using (listener)
        {
            using Socket connection = await listener.AcceptAsync();
            using var stream = new NetworkStream(connection);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer);
            EndMigration("completed");
            return buffer.ToArray();
        }
    }

    private static QmpEvent Migration(string status) =>
        new("MIGRATION", JsonDocument.Parse($$"""{"status": "{{status}}"}""").RootElement.Clone(), DateTimeOffset.UnixEpoch);
}
