namespace Replicator.Qemu.Config;

/// <summary>A VM configuration that cannot be used; <see cref="Field"/> names the field at fault (JSON path style).</summary>
public sealed class VmConfigException(string field, string problem, Exception? inner = null)
    : Exception($"VM configuration: {field}: {problem}", inner)
{
    public string Field { get; } = field;

    public string Problem { get; } = problem;
}
