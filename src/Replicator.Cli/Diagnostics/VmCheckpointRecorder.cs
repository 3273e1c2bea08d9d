using Replicator.Qemu;

namespace Replicator.Cli.Diagnostics;

/// <summary>
/// Collects where each checkpoint's pause of a QEMU guest went (<see cref="CheckpointTimings"/>:
/// stop, RAM diff, device state, resume) and how much it captured. Timings arrive from the thread
/// that resumes the guest; reads come from the control socket's, hence the lock.
/// </summary>
internal sealed class VmCheckpointRecorder
{
    /// <summary>The parts of the pause; the RAM diff and the device state overlap.</summary>
    public static readonly string[] PhaseNames = ["stop", "ramDiff", "deviceState", "resume"];

    private readonly Lock _lock = new();
    private LatencyHistogram _pause = new();
    private Dictionary<string, LatencyHistogram> _phases = NewPhases();
    private long _pagesCopied;
    private long _pagesCopiedMax;
    private long _pagesCompared;
    private long _deviceStateBytes;
    private TimeSpan _ramDiffTime;

    public void Record(CheckpointTimings timings)
    {
        ArgumentNullException.ThrowIfNull(timings);
        lock (_lock)
        {
            _pause.Record(timings.Pause);
            _phases["stop"].Record(timings.Stop);
            _phases["ramDiff"].Record(timings.RamDiff);
            _phases["deviceState"].Record(timings.DeviceState);
            _phases["resume"].Record(timings.Resume);
            _pagesCopied += timings.PagesCopied;
            _pagesCopiedMax = Math.Max(_pagesCopiedMax, timings.PagesCopied);
            _pagesCompared += timings.PagesCompared;
            _deviceStateBytes += timings.DeviceStateBytes;
            _ramDiffTime += timings.RamDiff;
        }
    }

    /// <summary>What was recorded since the start or the last reset (then starts afresh when <paramref name="reset"/>).</summary>
    public VmCheckpointSummary Summary(bool reset)
    {
        lock (_lock)
        {
            long count = _pause.Count;
            var summary = new VmCheckpointSummary(
                count,
                _pause.Summary(),
                _phases.ToDictionary(p => p.Key, p => p.Value.Summary()),
                count == 0 ? 0 : Math.Round((double)_pagesCopied / count, 1),
                _pagesCopiedMax,
                count == 0 ? 0 : _pagesCompared / count,
                count == 0 ? 0 : _deviceStateBytes / count,
                _ramDiffTime <= TimeSpan.Zero ? 0 : Math.Round(_pagesCompared * (double)QemuVirtualMachine.PageSize / _ramDiffTime.TotalSeconds / 1e9, 2));
            if (reset)
            {
                _pause = new LatencyHistogram();
                _phases = NewPhases();
                (_pagesCopied, _pagesCopiedMax, _pagesCompared, _deviceStateBytes, _ramDiffTime) = (0, 0, 0, 0, TimeSpan.Zero);
            }

            return summary;
        }
    }

    private static Dictionary<string, LatencyHistogram> NewPhases() => PhaseNames.ToDictionary(n => n, _ => new LatencyHistogram());
}

/// <summary>
/// The QEMU guest's checkpoints: the pause and its parts in microseconds, pages copied per
/// checkpoint (mean, max) of those compared, device-state bytes per checkpoint, and the RAM diff's
/// throughput in GB/s of guest RAM compared.
/// </summary>
internal sealed record VmCheckpointSummary(
    long Checkpoints,
    LatencySummary PauseUs,
    IReadOnlyDictionary<string, LatencySummary> PhasesUs,
    double PagesCopiedMean,
    long PagesCopiedMax,
    long PagesCompared,
    long DeviceStateBytes,
    double RamDiffGBps);
