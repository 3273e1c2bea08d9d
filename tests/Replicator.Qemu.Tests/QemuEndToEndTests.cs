using System.Globalization;
using Replicator.Core.Vm;
using Replicator.Qemu.Config;
using Replicator.Qemu.Guests;
using Replicator.Qemu.Ram;
using Replicator.Qemu.Tests.Support;
using Xunit.Abstractions;

namespace Replicator.Qemu.Tests;

/// <summary>
/// The adapter with the real QEMU and the counting guest: incremental checkpoints while the
/// counter runs, the last one kept as a secondary would keep it (RAM rebuilt page by page, device
/// state, and the disk as it was at that pause), QEMU killed with SIGKILL, and a new QEMU restored
/// from the checkpoint whose counter must go on from the checkpointed value.
/// </summary>
public sealed class QemuEndToEndTests(ITestOutputHelper output)
{
    // Bounds that fail the test instead of hanging it; TCG boots the guest in ~3 s.
    private static readonly TimeSpan Boot = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan Progress = TimeSpan.FromSeconds(30);

    [QemuFact]
    public async Task A_guest_restored_from_its_last_checkpoint_counts_on_from_there()
    {
        int checkpoints = int.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_QEMU_CHECKPOINTS"), CultureInfo.InvariantCulture, out int n) && n > 1 ? n : 12;
        CountingGuestFiles guest = TestGuest.Build();
        string dir = Directory.CreateTempSubdirectory("rq-").FullName;
        string ramFile = Path.Combine("/dev/shm", $"replicator-test-{Path.GetFileName(dir)}.ram");
        try
        {
            string disk = Path.Combine(dir, "disk.raw");
            using (FileStream image = File.Create(disk))
            {
                image.SetLength(1 << 20);
            }

            var secondary = new VmState((long)128 << 20, QemuVirtualMachine.PageSize);
            string checkpointDisk = Path.Combine(dir, "checkpoint-disk.raw");
            long futureValue;
            var timings = new List<CheckpointTimings>();
            // Threads of the RAM diff: every core unless set (to compare, in the figures' runs).
            int parallelism = int.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_QEMU_DIFF_THREADS"), CultureInfo.InvariantCulture, out int t) ? t : 0;
            await using (var primary = new QemuVirtualMachine(TestGuest.Config(guest, dir, disk, ramFile), parallelism: parallelism))
            {
                await primary.StartAsync();
                output.WriteLine($"QEMU {primary.QemuVersion}, page compare at {PageCompare.Best}, {Environment.ProcessorCount} cores");
                await primary.Console.WaitForLineAsync(l => CountingGuest.Counter(l) is not null, 0, Boot);

                for (long epoch = 1; epoch <= checkpoints; epoch++)
                {
                    // The guest runs between checkpoints: wait for its next printed value.
                    await primary.Console.WaitForLineAsync(l => CountingGuest.Counter(l) is not null, primary.Console.LineCount, Progress);
                    await primary.PauseAsync();
                    VmSnapshot snapshot = await primary.CaptureAsync(epoch, epoch == 1 ? CaptureScope.All : CaptureScope.Changes);
                    if (epoch == checkpoints)
                    {
                        // The disk as it is during the pause: the secondary's committed image of this epoch.
                        File.Copy(disk, checkpointDisk);
                    }

                    await primary.ResumeAsync();
                    timings.Add(primary.LastCheckpoint!);
                    secondary.Apply(snapshot);
                    primary.Pages.Return(snapshot);
                }

                // Let the guest run well past the checkpoint, so a restore from "the future" would show.
                long atCheckpoint = TestGuest.HighestRecord(checkpointDisk);
                string later = await primary.Console.WaitForLineAsync(l => CountingGuest.Counter(l) > atCheckpoint + 50, 0, Progress);
                futureValue = CountingGuest.Counter(later)!.Value;
                primary.Kill();
                await Assert.ThrowsAsync<InvalidOperationException>(() => primary.PauseAsync());
            }

            Report(timings);
            long checkpointed = TestGuest.HighestRecord(checkpointDisk);
            Assert.True(checkpointed > 0, "the checkpoint's disk holds no record: the guest never wrote before the last checkpoint");
            Assert.True(timings.Skip(1).All(t => t.PagesCopied < t.PagesCompared), "an incremental checkpoint copied every page");

            await using var restored = new QemuVirtualMachine(TestGuest.Config(guest, dir, checkpointDisk, ramFile));
            await restored.RestoreAsync(secondary);
            string first = await restored.Console.WaitForLineAsync(l => CountingGuest.Counter(l) is not null, 0, Progress);
            long resumedAt = CountingGuest.Counter(first)!.Value;
            output.WriteLine($"checkpoint disk's last record {checkpointed}, the old guest reached {futureValue}, the restored guest printed {resumedAt} first");

            // The disk holds every value before it is printed, and the pause caught the guest either
            // after printing its last recorded value or before: it goes on with that value or the next.
            Assert.InRange(resumedAt, checkpointed, checkpointed + 1);
            Assert.True(resumedAt < futureValue, $"the restored guest printed {resumedAt}, not before the old guest's {futureValue}");

            // It keeps counting, writing its disk, and can be checkpointed again, incrementally.
            await restored.Console.WaitForLineAsync(l => CountingGuest.Counter(l) >= resumedAt + 20, 0, Progress);
            await restored.PauseAsync();
            VmSnapshot next = await restored.CaptureAsync(checkpoints + 1, CaptureScope.Changes);
            await restored.ResumeAsync();
            Assert.InRange(next.Pages.Count, 1, (int)(secondary.PageCount - 1));
            Assert.True(next.CpuState.Length > 0);
            Assert.True(TestGuest.HighestRecord(checkpointDisk) >= resumedAt + 19, "the restored guest's records are not on its disk");
        }
        finally
        {
            File.Delete(ramFile);
            Directory.Delete(dir, recursive: true);
        }
    }

    [QemuFact]
    public async Task A_guest_whose_disk_is_an_NBD_export_is_checkpointed_and_runs_on()
    {
        // The daemons will give QEMU the primary's NBD export as the guest's disk; qemu-nbd stands
        // in for it here: the guest's synchronous writes go over NBD, and `stop` drains them.
        CountingGuestFiles guest = TestGuest.Build();
        string dir = Directory.CreateTempSubdirectory("rqn-").FullName;
        string ramFile = Path.Combine("/dev/shm", $"replicator-test-{Path.GetFileName(dir)}.ram");
        string image = Path.Combine(dir, "disk.raw");
        string socket = Path.Combine(dir, "nbd.sock");
        using (FileStream file = File.Create(image))
        {
            file.SetLength(1 << 20);
        }

        var start = new System.Diagnostics.ProcessStartInfo("qemu-nbd") { RedirectStandardError = true };
        foreach (string argument in new[] { "--format=raw", "--cache=writeback", $"--socket={socket}", image })
        {
            start.ArgumentList.Add(argument);
        }

        using var nbd = System.Diagnostics.Process.Start(start)!;
        try
        {
            // qemu-nbd is ready when its socket exists; QEMU retries nothing, so wait for the file
            // with a filesystem watch rather than a sleep.
            await WaitForFileAsync(socket, Progress);
            string uri = $"nbd+unix:///?socket={socket}";
            VmConfig config = TestGuest.Config(guest, dir, uri, ramFile) with { Disk = new DiskConfig(uri, DiskFormat.Raw, DiskCache.Writeback) };
            await using var vm = new QemuVirtualMachine(config);
            await vm.StartAsync();
            await vm.Console.WaitForLineAsync(l => CountingGuest.Counter(l) is not null, 0, Boot);
            long lastPaused = 0;
            for (long epoch = 1; epoch <= 5; epoch++)
            {
                await vm.Console.WaitForLineAsync(l => CountingGuest.Counter(l) is not null, vm.Console.LineCount, Progress);
                await vm.PauseAsync();
                VmSnapshot snapshot = await vm.CaptureAsync(epoch, epoch == 1 ? CaptureScope.All : CaptureScope.Changes);
                lastPaused = TestGuest.HighestRecord(image);
                await vm.ResumeAsync();
                Assert.True(snapshot.CpuState.Length > 0);
                vm.Pages.Return(snapshot);
            }

            string after = await vm.Console.WaitForLineAsync(l => CountingGuest.Counter(l) > lastPaused + 10, 0, Progress);
            output.WriteLine($"on NBD: last record during the last pause {lastPaused}, then {after}; pause {vm.LastCheckpoint!.Pause.TotalMilliseconds:0.0} ms");
            Assert.True(lastPaused > 0, "no record reached the NBD export before the last checkpoint");
        }
        finally
        {
            if (!nbd.HasExited)
            {
                nbd.Kill();
            }

            await nbd.WaitForExitAsync();
            File.Delete(ramFile);
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task WaitForFileAsync(string path, TimeSpan timeout)
    {
        using var watcher = new FileSystemWatcher(Path.GetDirectoryName(path)!, Path.GetFileName(path)) { EnableRaisingEvents = true };
        var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        watcher.Created += (_, _) => created.TrySetResult();
        if (!File.Exists(path))
        {
            await created.Task.WaitAsync(timeout);
        }
    }

    private void Report(List<CheckpointTimings> timings)
    {
        // The first checkpoint copies every page; the rest are the steady state.
        List<CheckpointTimings> steady = timings.Skip(1).ToList();
        CheckpointTimings whole = timings[0];
        output.WriteLine($"first (whole) checkpoint: pause {Ms(whole.Pause)} (ram {Ms(whole.RamDiff)}, device state {Ms(whole.DeviceState)}), {whole.PagesCopied} pages, device state {whole.DeviceStateBytes} bytes");
        output.WriteLine($"{steady.Count} incremental checkpoints of a {timings[0].PagesCompared * QemuVirtualMachine.PageSize >> 20} MiB guest:");
        Line("pause", steady.Select(t => t.Pause));
        Line("  stop", steady.Select(t => t.Stop));
        Line("  ram diff", steady.Select(t => t.RamDiff));
        Line("  device state", steady.Select(t => t.DeviceState));
        Line("  resume", steady.Select(t => t.Resume));
        output.WriteLine($"pages copied: median {Percentile(steady.Select(t => (double)t.PagesCopied), 0.5):0}, device state median {Percentile(steady.Select(t => (double)t.DeviceStateBytes), 0.5):0} bytes");
        double diffSeconds = Percentile(steady.Select(t => t.RamDiff.TotalSeconds), 0.5);
        output.WriteLine($"ram diff throughput (median): {timings[0].PagesCompared * QemuVirtualMachine.PageSize / diffSeconds / 1e9:0.0} GB/s");
    }

    private void Line(string name, IEnumerable<TimeSpan> values)
    {
        List<double> ms = values.Select(v => v.TotalMilliseconds).ToList();
        output.WriteLine($"{name,-14} p50 {Percentile(ms, 0.5),7:0.00} ms  p99 {Percentile(ms, 0.99),7:0.00} ms  max {ms.Max(),7:0.00} ms");
    }

    private static string Ms(TimeSpan t) => $"{t.TotalMilliseconds:0.00} ms";

    private static double Percentile(IEnumerable<double> values, double p)
    {
        double[] sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }
}
