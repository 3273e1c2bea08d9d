using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.EndToEnd.Tests;

/// <summary>The replication link as a stranger, a misconfigured pair and a careless operator meet it.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public class LinkSecurityTests
{
    [Fact]
    public async Task A_stranger_s_resync_and_checkpoint_after_the_primary_died_never_reach_the_promoted_image()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x31 0 1M");
        long epoch = await pair.CheckpointAsync();
        pair.Primary!.Kill();

        // All a stranger who reaches the port needs without the key: the default pair id, the
        // image's size, a resync, one write and the checkpoint that would commit it.
        using (var stranger = new TcpClient())
        {
            await stranger.ConnectAsync(IPAddress.Loopback, pair.SecondaryPort);
            await stranger.GetStream().WriteAsync(StrangerFrames(epoch + 1, DaemonPair.ImageBytes));
            byte[] answer = await ReadUntilClosedAsync(stranger.GetStream());

            string text = System.Text.Encoding.Latin1.GetString(answer);
            Assert.DoesNotContain("replicator", text, StringComparison.Ordinal);
            Assert.DoesNotContain(DaemonPair.ImageBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), text, StringComparison.Ordinal);
        }

        await pair.Secondary!.WaitForOutputAsync("did not prove the pair key");
        Assert.Equal(epoch, await pair.FailoverAsync());
        await Tool.QemuIo(pair.SecondaryUri, "read -P 0x31 0 1M");
    }

    [Fact]
    public async Task A_primary_with_another_pair_s_key_is_refused_and_the_secondary_serves_on()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        string otherKey = Path.Combine(Path.GetDirectoryName(pair.LinkKey)!, "other.key");
        Runtime.Links.LinkKey.Generate(otherKey);

        pair.StartPrimary("--link-key", otherKey);
        await pair.Primary!.WaitForOutputAsync("did not prove the pair key");
        await pair.Secondary.WaitForOutputAsync("refused a connection");
        JsonNode status = await DaemonPair.StatusAsync(pair.SecondaryState);
        Assert.Equal("secondary", status["role"]?.GetValue<string>());
        Assert.False(pair.Secondary.HasExited);

        // The right key, and the pair forms.
        await pair.Primary.DisposeAsync();
        pair.StartPrimary();
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x41 0 64k");
        Assert.True(await pair.CheckpointAsync() > 0);
    }

    [Fact]
    public async Task A_daemon_without_a_key_refuses_to_start_unless_the_link_is_said_to_be_insecure()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);

        (int code, string output) = await ReplicatorProcess.RunAsync("secondary", "--image", pair.SecondaryImage, "--listen", "127.0.0.1:1", "--state-dir", pair.SecondaryState);
        Assert.Equal(2, code);
        Assert.Contains("a link key is required: --link-key FILE", output, StringComparison.Ordinal);

        File.SetUnixFileMode(pair.LinkKey, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
        (code, output) = await ReplicatorProcess.RunAsync("primary", "--image", pair.PrimaryImage, "--peer", "127.0.0.1:1", "--nbd", "127.0.0.1:1", "--state-dir", pair.PrimaryState, "--link-key", pair.LinkKey);
        Assert.Equal(2, code);
        Assert.Contains($"link key {pair.LinkKey} is open to others than its owner", output, StringComparison.Ordinal);

        pair.StartSecondary("--insecure-link");
        await pair.Secondary!.WaitForOutputAsync("NOT authenticated or encrypted");
    }

    [Fact]
    public async Task Keygen_writes_an_owner_only_key_and_never_overwrites_one()
    {
        string directory = Directory.CreateTempSubdirectory("replicator-keygen-").FullName;
        try
        {
            string path = Path.Combine(directory, "pair.key");
            (int code, string output) = await ReplicatorProcess.RunAsync("keygen", "--out", path);
            Assert.Equal(0, code);
            Assert.Contains("owner-only", output, StringComparison.Ordinal);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            byte[] key = await File.ReadAllBytesAsync(path);

            (code, output) = await ReplicatorProcess.RunAsync("keygen", "--out", path);
            Assert.Equal(1, code);
            Assert.Contains("never overwritten", output, StringComparison.Ordinal);
            Assert.Equal(key, await File.ReadAllBytesAsync(path));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Hello for the default pair, a resync from the last checkpoint, one 4 KiB write of 0x66 at 0, and its checkpoint.</summary>
    private static byte[] StrangerFrames(long epoch, long imageBytes)
    {
        var writer = new FrameWriter();
        var output = new ArrayBufferWriter<byte>();
        writer.WriteControl(output, FrameType.Hello, new HelloMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            Identity = new PairIdentity { PairId = "replicator", ImageBytes = imageBytes, BlockSize = 4096, MaxRequestBytes = 1 << 20 },
        });
        writer.WriteControl(output, FrameType.ResyncStart, new ResyncStartMessage { BaseEpoch = epoch - 1, FirstEpoch = epoch, FirstSequence = 1, Regions = 1, Bytes = 4096 });
        var write = new MirrorRecord(epoch, 1, BlockRequest.Write(0, 4096), Enumerable.Repeat((byte)0x66, 4096).ToArray());
        writer.WriteMirror(output, write);
        var digest = default(EpochDigest);
        digest.Add(write);
        var snapshot = new Core.Vm.VmSnapshot(epoch, [], []);
        writer.WriteControl(output, FrameType.Checkpoint, CheckpointMessage.From(new CheckpointRecord(epoch, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest())));
        return output.WrittenSpan.ToArray();
    }

    private static async Task<byte[]> ReadUntilClosedAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var all = new MemoryStream();
        try
        {
            await stream.CopyToAsync(all, timeout.Token);
        }
        catch (IOException)
        {
            // A reset is as closed as a FIN.
        }

        return all.ToArray();
    }
}
