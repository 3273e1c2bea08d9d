using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

public class VerifyTests
{
    [Fact]
    public async Task Verify_finds_a_block_corrupted_on_the_secondary_and_repair_makes_the_images_equal_while_the_guest_writes()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0xb1 0 4M", "write -P 0xb2 8M 1M");
        await pair.CheckpointAsync();

        // Equal images: exit 0, every byte compared.
        (int code, string output) = await ReplicatorProcess.RunAsync("verify", "--state-dir", pair.PrimaryState);
        Assert.True(code == 0, output);
        JsonNode report = JsonNode.Parse(output)!;
        Assert.Equal(DaemonPair.ImageBytes, report["BytesCompared"]!.GetValue<long>());
        Assert.Equal(0, report["BlocksDiverged"]!.GetValue<long>());

        // A byte flipped behind the secondary's back (bit rot, a stray write): the block holding it differs.
        const long corrupted = (8L << 20) + 70_000;
        await using (FileStream image = new(pair.SecondaryImage, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            image.Position = corrupted;
            image.WriteByte(0x00);
        }

        (code, output) = await ReplicatorProcess.RunAsync("verify", "--state-dir", pair.PrimaryState);
        Assert.True(code == 3, output);
        report = JsonNode.Parse(output)!;
        Assert.Equal(1, report["BlocksDiverged"]!.GetValue<long>());
        Assert.Equal(corrupted / 65536 * 65536, report["DivergedOffsets"]![0]!.GetValue<long>());

        // Repaired while the guest writes elsewhere; then verified equal.
        Task guest = Tool.QemuIo(pair.PrimaryUri, "write -P 0xb3 12M 2M");
        (code, output) = await ReplicatorProcess.RunAsync("verify", "--state-dir", pair.PrimaryState, "--repair");
        Assert.True(code == 0, output);
        Assert.True(JsonNode.Parse(output)!["Repaired"]!.GetValue<bool>());
        await guest;
        await pair.CheckpointAsync();
        (code, output) = await ReplicatorProcess.RunAsync("verify", "--state-dir", pair.PrimaryState);
        Assert.True(code == 0, output);

        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        byte[] expected = await File.ReadAllBytesAsync(pair.PrimaryImage);
        await pair.FailoverAsync();
        byte[] served = await pair.ReadThroughNbdAsync(pair.SecondaryUri);
        Assert.True(expected.AsSpan().SequenceEqual(served), "the promoted image differs from the primary's");
    }
}
