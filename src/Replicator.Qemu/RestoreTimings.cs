namespace Replicator.Qemu;

/// <summary>
/// Where a restore's time went up to the guest running: writing the RAM file, starting QEMU (to
/// its QMP greeting and the migration capabilities), loading the device state, and <c>cont</c>.
/// </summary>
/// <remarks>With <see cref="LaunchedAhead"/>, QEMU was started by <c>PrepareRestoreAsync</c> before the state was known, alongside whatever produced it: its launch is not part of the restore's own time.</remarks>
public sealed record RestoreTimings(TimeSpan WriteRam, TimeSpan Launch, TimeSpan DeviceState, TimeSpan Cont, bool LaunchedAhead)
{
    /// <summary>The restore's own time, from the state given to the guest running.</summary>
    public TimeSpan Total => WriteRam + (LaunchedAhead ? TimeSpan.Zero : Launch) + DeviceState + Cont;

    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"RAM file written in {WriteRam.TotalMilliseconds:F0} ms, QEMU started in {Launch.TotalMilliseconds:F0} ms{(LaunchedAhead ? " (beforehand, while the state was read)" : "")}, device state loaded in {DeviceState.TotalMilliseconds:F0} ms, cont in {Cont.TotalMilliseconds:F0} ms");
}
