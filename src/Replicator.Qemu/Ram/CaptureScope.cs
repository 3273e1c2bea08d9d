namespace Replicator.Qemu.Ram;

/// <summary>What a RAM capture takes: the pages that differ from the shadow, or every page.</summary>
public enum CaptureScope
{
    Changes,
    All,
}
