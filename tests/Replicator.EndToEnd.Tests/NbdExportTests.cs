using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// The replicated export with the clients that use its newer features: nbdinfo --map and
/// qemu-img map (block status), nbdcopy over four connections (CAN_MULTI_CONN, FLUSH on one of
/// them covering all) and back (structured reads with holes).
/// </summary>
public class NbdExportTests
{
    private const int MiB = 1 << 20;

    [Fact]
    public async Task Block_status_maps_the_holes_of_the_replicated_image()
    {
        await using DaemonPair pair = await StartSparseAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x5a 1M 1M");

        (int code, string output) = await Tool.RunAsync("nbdinfo", "--map", "--json", pair.PrimaryUri);

        Assert.True(code == 0, output);
        var extents = JsonNode.Parse(output)!.AsArray().Select(e => (Offset: e!["offset"]!.GetValue<long>(), Length: e["length"]!.GetValue<long>(), Type: e["type"]!.GetValue<int>())).ToList();
        Assert.Equal([(0L, (long)MiB, 3), (MiB, MiB, 0), (2L * MiB, DaemonPair.ImageBytes - (2 * MiB), 3)], extents); // 3: hole and zero; 0: data

        (code, output) = await Tool.RunAsync("qemu-img", "map", "-f", "raw", "--output=json", pair.PrimaryUri);
        Assert.True(code == 0, output);
        var map = JsonNode.Parse(output)!.AsArray().Select(e => (Start: e!["start"]!.GetValue<long>(), Length: e["length"]!.GetValue<long>(), Data: e["data"]!.GetValue<bool>(), Zero: e["zero"]!.GetValue<bool>())).ToList();
        Assert.Equal([(0L, (long)MiB, false, true), (MiB, MiB, true, false), (2L * MiB, DaemonPair.ImageBytes - (2 * MiB), false, true)], map);
    }

    [Fact]
    public async Task Nbdcopy_over_four_connections_replicates_exactly_and_copies_back_through_the_holes()
    {
        await using DaemonPair pair = await StartSparseAsync();
        byte[] source = new byte[DaemonPair.ImageBytes];
        new Random(7).NextBytes(source.AsSpan(0, 8 * MiB));
        new Random(8).NextBytes(source.AsSpan(12 * MiB));
        string sourcePath = pair.FileInDirectory("source.img");
        await File.WriteAllBytesAsync(sourcePath, source);

        (int code, string output) = await Tool.RunAsync("nbdcopy", "--connections=4", "--threads=4", "--flush", "--verbose", sourcePath, pair.PrimaryUri);

        Assert.True(code == 0, output);
        // nbdcopy opens more than one connection only where CAN_MULTI_CONN is set (and no more than threads).
        Assert.Contains("nbdcopy: connections=4 ", output, StringComparison.Ordinal);
        long epoch = await pair.CheckpointAsync();
        pair.Primary!.Kill();
        Assert.Equal(epoch, await pair.FailoverAsync());
        byte[] promoted = await File.ReadAllBytesAsync(pair.SecondaryImage);
        Assert.True(source.AsSpan().SequenceEqual(promoted), "the promoted image differs from what nbdcopy wrote");

        string copyPath = pair.FileInDirectory("copy.img");
        (code, output) = await Tool.RunAsync("nbdcopy", "--connections=4", "--threads=4", pair.SecondaryUri, copyPath);
        Assert.True(code == 0, output);
        byte[] copy = await File.ReadAllBytesAsync(copyPath);
        Assert.True(source.AsSpan().SequenceEqual(copy), "nbdcopy read back other bytes");
    }

    /// <summary>A pair on sparse images (all holes, equal), so block status has holes to report.</summary>
    private static async Task<DaemonPair> StartSparseAsync()
    {
        var pair = new DaemonPair();
        foreach (string image in new[] { pair.PrimaryImage, pair.SecondaryImage })
        {
            using var file = new FileStream(image, FileMode.Create, FileAccess.Write);
            file.SetLength(DaemonPair.ImageBytes);
        }

        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary();
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        return pair;
    }
}
