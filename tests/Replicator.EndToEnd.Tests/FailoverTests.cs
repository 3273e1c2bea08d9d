using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>The pair as an operator runs it: real daemons, real TCP, real NBD clients.</summary>
public class FailoverTests
{
    [Fact]
    public async Task After_SIGKILL_of_the_primary_failover_serves_exactly_the_last_committed_checkpoint()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        // Writes (FUA, qemu-io's default), write-zeroes at 2 MiB and a trim at 8 MiB + 64 KiB, flushes.
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x11 0 4M", "write -P 0x22 8M 1M", "flush");
        (int code, string output) = await Tool.RunAsync("nbdsh", "-u", pair.PrimaryUri, "-c", "h.zero(1048576, 2097152)", "-c", "h.trim(65536, 8454144)", "-c", "h.flush()");
        Assert.True(code == 0, output);
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);

        // Written after the checkpoint and never checkpointed: must not survive the failover.
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x33 0 1M", "write -P 0x44 12M 64k");
        pair.Primary!.Kill();
        long promoted = await pair.FailoverAsync();

        Assert.Equal(epoch, promoted);
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x11 0 2M", "read -P 0 2M 1M", "read -P 0x22 8M 64k", "read -P 0 8256k 64k", "read -P 0x22 8320k 704k");
        byte[] promotedImage = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(promotedImage), "the promoted image differs from the primary's image at the last checkpoint");
    }

    [Fact]
    public async Task A_promoted_node_serves_at_once_through_what_still_drains_and_a_write_into_it_lands_after_it()
    {
        // The write-back may lag by up to 1 GiB: committed epochs wait in RAM when the primary dies.
        await using DaemonPair pair = await DaemonPair.StartAsync(false, ["--writeback-mb", "1024"], []);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x15 0 8M", "write -P 0x16 8M 7M");
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);
        pair.Primary!.Kill();

        (int code, string output) = await ReplicatorProcess.RunAsync("failover", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, output);
        await pair.Secondary!.WaitForOutputAsync("serving the image over NBD");
        Assert.Contains($"taking over at checkpoint {epoch}: ", pair.Secondary.Output, StringComparison.Ordinal);

        // Read at once, drained or not: the checkpoint, whatever the image file holds yet.
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(served), "the promoted node served other than the checkpoint it took over");

        // A write into the last epoch's range, and one beside everything written: both land, over the drain.
        await Tool.QemuIo(pair.SecondaryUri, "write -P 0x17 14M 64k", "write -P 0x18 15872k 64k", "flush");
        // `drained` returns once the image file alone holds the checkpoint taken over.
        (code, output) = await ReplicatorProcess.RunAsync("drained", "--state-dir", pair.SecondaryState);
        Assert.True(code == 0, output);
        Assert.Equal(epoch, JsonNode.Parse(output)!["takeoverEpoch"]!.GetValue<long>());
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x15 0 8M", "read -P 0x16 8M 6M", "read -P 0x17 14M 64k", "read -P 0x16 14400k 960k", "read -P 0x18 15872k 64k");
        (code, output) = await Tool.RunAsync("qemu-io", "-f", "raw", "-r", "-c", "read -P 0x17 14M 64k", pair.SecondaryImage);
        Assert.True(code == 0 && !output.Contains("verification failed", StringComparison.Ordinal), $"the drain landed over the new primary's write: {output}");
    }

    [Fact]
    public async Task Killing_the_secondary_leaves_the_primary_serving_and_losing_nothing()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x51 0 2M");
        await pair.CheckpointAsync();
        pair.Secondary!.Kill();

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x52 2M 2M", "flush");
        string degraded = await pair.WaitUntilDegradedAsync();
        Assert.False(string.IsNullOrEmpty(degraded));
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x53 4M 1M", "read -P 0x51 0 2M", "read -P 0x52 2M 2M", "read -P 0x53 4M 1M");
        Assert.False(pair.Primary!.HasExited);
    }

    [Fact]
    public async Task A_link_cut_mid_epoch_degrades_the_primary_and_failover_lands_on_the_last_checkpoint()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync(withProxy: true);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x61 0 2M", "flush");
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);

        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x62 0 1M");
        pair.Proxy!.Cut();
        await pair.WaitUntilDegradedAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x63 1M 1M", "read -P 0x62 0 1M");

        Assert.Equal(epoch, await pair.FailoverAsync());
        byte[] promotedImage = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(promotedImage));
    }

    [Theory]
    [InlineData(false, "failed TLS authentication")]
    [InlineData(true, "the frame was damaged")]
    public async Task A_corrupted_frame_is_refused_and_nothing_of_it_is_committed(bool insecureLink, string refusal)
    {
        // Reconnection off: the test looks at what the damaged stream left, before any resync.
        // With TLS the record's authentication tag catches the damage; plain, the frame checksum.
        string[] link = insecureLink ? ["--insecure-link"] : [];
        await using DaemonPair pair = await DaemonPair.StartAsync(true, link, [.. link, "--reconnect-ms", "0"]);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x71 0 1M", "flush");
        long epoch = await pair.CheckpointAsync();
        byte[] atCheckpoint = await File.ReadAllBytesAsync(pair.PrimaryImage);

        pair.Proxy!.CorruptNextDataChunk();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x72 0 1M", "flush");
        await pair.Secondary!.WaitForOutputAsync(refusal);
        await pair.WaitUntilDegradedAsync();

        Assert.Equal(epoch, await pair.FailoverAsync());
        byte[] promotedImage = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(atCheckpoint.AsSpan().SequenceEqual(promotedImage));
    }

    [Fact]
    public async Task A_primary_stopped_by_SIGTERM_restarts_where_it_left_off_and_one_killed_resyncs_what_its_dirty_log_names()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x81 0 1M");
        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        Assert.Contains("stopped cleanly after a last checkpoint", pair.Primary.Output, StringComparison.Ordinal);

        // Restarted after a clean stop: the pair goes on, and what was written before is committed.
        await pair.Primary.DisposeAsync();
        pair.StartPrimary();
        await pair.Primary.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.DoesNotContain("full sync", pair.Primary.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x82 1M 1M", "read -P 0x81 0 1M");
        await pair.CheckpointAsync();

        // Killed after a write no checkpoint covers: its image holds what the secondary never saw.
        // The dirty log's hot extent (the first 4 MiB, where every write since the start landed)
        // names it: the restart copies that extent, not the 16 MiB image, before the pair is protected.
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x83 2M 1M");
        pair.Primary.Kill();
        await pair.Primary.WaitForExitAsync();
        await pair.Primary.DisposeAsync();
        pair.StartPrimary();
        await pair.Primary.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("dirty log restored: 64 regions (4194304 bytes)", pair.Primary.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("full sync", pair.Primary.Output, StringComparison.Ordinal);
        await pair.CheckpointAsync();
        System.Text.Json.Nodes.JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.True(status["SyncCompleted"]!.GetValue<bool>());
        Assert.False(status["SyncWholeImage"]!.GetValue<bool>());
        Assert.Equal(4L << 20, status["SyncBytesTotal"]!.GetValue<long>());

        // Killed again, and restarted without a dirty log: nothing says where it wrote, so the whole image is copied.
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x84 9M 1M");
        pair.Primary.Kill();
        await pair.Primary.WaitForExitAsync();
        await pair.Primary.DisposeAsync();
        pair.StartPrimary("--activity-log-extents", "0");
        await pair.Primary.WaitForOutputAsync("exporting the protected disk over NBD");
        Assert.Contains("copying the whole image", pair.Primary.Output, StringComparison.Ordinal);
        Assert.Contains("full sync started", pair.Primary.Output, StringComparison.Ordinal);
        await pair.CheckpointAsync();
        status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.True(status["SyncWholeImage"]!.GetValue<bool>());
        Assert.Equal(DaemonPair.ImageBytes, status["SyncBytesTotal"]!.GetValue<long>());

        await pair.Primary.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        await pair.FailoverAsync();
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x81 0 1M", "read -P 0x82 1M 1M", "read -P 0x83 2M 1M", "read -P 0x84 9M 1M");
    }
}
