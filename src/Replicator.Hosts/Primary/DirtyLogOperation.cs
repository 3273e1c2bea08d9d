using Replicator.Hosts.Storage;

namespace Replicator.Hosts.Primary;

/// <summary>
/// One batch of dirty-log work the primary's host asks of its shell, as ordered steps: a flush of
/// the primary's image (so that what the log stops naming is durable there too), writes of bitmap
/// sectors and of a header, and a flush of the log after each write, so that each step is durable
/// before the next begins. The shell runs the steps in order, off the host's loop, and reports
/// <see cref="PrimaryHost.OnDirtyLogWritten"/> with the operation's id.
/// </summary>
public sealed class DirtyLogOperation
{
    private readonly List<DirtyLogStep> _steps = new(4);

    internal DirtyLogOperation(long id, DirtyLogFile file, ulong logId)
    {
        Id = id;
        File = file;
        LogId = logId;
    }

    public long Id { get; }

    /// <summary>The steps, in the order they must run.</summary>
    public IReadOnlyList<DirtyLogStep> Steps => _steps;

    private DirtyLogFile File { get; }

    private ulong LogId { get; }

    /// <summary>
    /// Runs one log step on the log file (a <see cref="DirtyLogStepKind.FlushImage"/> is the shell's:
    /// it flushes the primary's image itself). Throws <see cref="IOException"/> as the file does.
    /// </summary>
    public void RunOnLog(DirtyLogStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        switch (step.Kind)
        {
            case DirtyLogStepKind.WriteSectors:
                foreach ((int sector, byte[] bits) in step.Sectors!)
                {
                    File.WriteSector(LogId, sector, bits);
                }

                break;
            case DirtyLogStepKind.WriteHeader:
                File.WriteHeader(step.Header!);
                break;
            case DirtyLogStepKind.FlushLog:
                File.Flush();
                break;
            case DirtyLogStepKind.FlushImage:
                throw new InvalidOperationException("the image flush is the shell's to run");
        }
    }

    internal void FlushImage() => _steps.Add(new DirtyLogStep(DirtyLogStepKind.FlushImage));

    internal void WriteSectors(List<(int Sector, byte[] Bits)> sectors)
    {
        if (sectors.Count > 0)
        {
            _steps.Add(new DirtyLogStep(DirtyLogStepKind.WriteSectors, Sectors: sectors));
            _steps.Add(new DirtyLogStep(DirtyLogStepKind.FlushLog));
        }
    }

    internal void WriteHeader(DirtyLogHeader header)
    {
        _steps.Add(new DirtyLogStep(DirtyLogStepKind.WriteHeader, Header: header));
        _steps.Add(new DirtyLogStep(DirtyLogStepKind.FlushLog));
    }
}

/// <summary>What a step of a <see cref="DirtyLogOperation"/> does.</summary>
public enum DirtyLogStepKind
{
    /// <summary>Flush the primary's image (fdatasync): every write completed so far is durable.</summary>
    FlushImage,

    /// <summary>Write bitmap sectors of the log.</summary>
    WriteSectors,

    /// <summary>Write a header (one activity-log transaction).</summary>
    WriteHeader,

    /// <summary>Flush the log file (fdatasync).</summary>
    FlushLog,
}

/// <summary>One step: its kind, and the sectors or header it writes.</summary>
public sealed record DirtyLogStep(DirtyLogStepKind Kind, IReadOnlyList<(int Sector, byte[] Bits)>? Sectors = null, DirtyLogHeader? Header = null);
