using System.Text.Json;
using Replicator.Nbd.Tests.Support;
using Replicator.Runtime.Storage;

namespace Replicator.Nbd.Tests.EndToEnd;

/// <summary>nbdinfo's view of the export: size, flags, block sizes, name.</summary>
public class NbdinfoTests
{
    [Fact]
    public async Task The_export_advertises_its_size_flags_and_block_sizes()
    {
        using var image = new TempImage(3 << 20);
        using ImageFile backend = ImageFile.Open(image.Path, maxRequestBytes: 2 << 20);
        await using TestServer server = TestServer.Start(backend, description: "replicated disk");

        ToolResult run = await ClientTools.RunAsync("nbdinfo", "--json", server.Uri());

        Assert.True(run.ExitCode == 0, run.ToString());
        using JsonDocument json = JsonDocument.Parse(run.Output);
        JsonElement export = json.RootElement.GetProperty("exports")[0];
        Assert.Equal("disk", export.GetProperty("export-name").GetString());
        Assert.Equal("replicated disk", export.GetProperty("description").GetString());
        Assert.Equal(3 << 20, export.GetProperty("export-size").GetInt64());
        Assert.False(export.GetProperty("is_read_only").GetBoolean());
        Assert.True(export.GetProperty("can_flush").GetBoolean());
        Assert.True(export.GetProperty("can_fua").GetBoolean());
        Assert.True(export.GetProperty("can_trim").GetBoolean());
        Assert.True(export.GetProperty("can_zero").GetBoolean());
        Assert.True(export.GetProperty("can_multi_conn").GetBoolean());
        Assert.True(export.GetProperty("can_cache").GetBoolean());
        Assert.True(export.GetProperty("can_fast_zero").GetBoolean());
        Assert.True(export.GetProperty("can_df").GetBoolean());
        Assert.Equal(512, export.GetProperty("block_size_minimum").GetInt32());
        Assert.Equal(4096, export.GetProperty("block_size_preferred").GetInt32());
        Assert.Equal(NbdServerOptions.DefaultMaxPayloadBytes, export.GetProperty("block_size_maximum").GetInt32());
        Assert.True(json.RootElement.GetProperty("structured").GetBoolean());
    }

    [Fact]
    public async Task A_read_only_export_advertises_no_changes()
    {
        using var image = new TempImage(1 << 20);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend, readOnly: true);

        ToolResult run = await ClientTools.RunAsync("nbdinfo", "--json", server.Uri());

        Assert.True(run.ExitCode == 0, run.ToString());
        using JsonDocument json = JsonDocument.Parse(run.Output);
        JsonElement export = json.RootElement.GetProperty("exports")[0];
        Assert.True(export.GetProperty("is_read_only").GetBoolean());
        Assert.False(export.GetProperty("can_trim").GetBoolean());
        Assert.False(export.GetProperty("can_zero").GetBoolean());
    }

    [Fact]
    public async Task The_export_is_listed_by_name()
    {
        using var image = new TempImage(1 << 20);
        using ImageFile backend = ImageFile.Open(image.Path);
        await using TestServer server = TestServer.Start(backend, exportName: "vm-disk-0");

        ToolResult run = await ClientTools.RunAsync("nbdinfo", "--list", $"nbd://127.0.0.1:{server.EndPoint.Port}");

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("export=\"vm-disk-0\"", run.Output, StringComparison.Ordinal);
    }
}
