namespace Replicator.Qemu;

/// <summary>
/// Where the time of one checkpoint's pause went: the <c>stop</c> (which drains the guest's
/// in-flight block I/O), the RAM diff, the device state (from <c>migrate</c> to the last byte and
/// QEMU's completion, overlapping the diff), the whole capture, and the <c>cont</c>.
/// </summary>
public sealed record CheckpointTimings(
    TimeSpan Stop,
    TimeSpan RamDiff,
    TimeSpan DeviceState,
    TimeSpan Capture,
    TimeSpan Resume,
    long PagesCompared,
    long PagesCopied,
    int DeviceStateBytes)
{
    /// <summary>The guest's downtime for the checkpoint: stop + capture + resume.</summary>
    public TimeSpan Pause => Stop + Capture + Resume;
}
