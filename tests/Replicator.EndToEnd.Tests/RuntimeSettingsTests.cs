using System.Text.Json;

namespace Replicator.EndToEnd.Tests;

/// <summary>How the runtime runs the daemons, as their runtimeconfig.json tells it.</summary>
public class RuntimeSettingsTests
{
    [Fact]
    public void The_daemons_compile_their_code_optimised_from_the_first_call()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "replicator.runtimeconfig.json");
        using JsonDocument config = JsonDocument.Parse(File.ReadAllText(path));
        JsonElement properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        Assert.True(properties.TryGetProperty("System.Runtime.TieredCompilation.QuickJit", out JsonElement quickJit), $"{path} does not set QuickJit");
        Assert.False(quickJit.GetBoolean());
    }
}
