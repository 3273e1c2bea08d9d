using System.Globalization;
using Replicator.Core.Primary;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Online verify: the engine sends the hashes of the whole image, block by block, in the stream;
/// the secondary answers each with the blocks that differ; the host gathers the answers and, when
/// asked, has the engine repair (copy) the diverged regions, and reports once that repair is
/// acknowledged. A verify that loses its link fails: nothing it found is reported half way.
/// </summary>
public sealed partial class PrimaryHost
{
    private VerifyRun? _verify;
    private string? _verifyStatus;

    /// <summary>The running verify as an operator reads it, or the last one's outcome (any thread).</summary>
    public string? VerifyStatus => Volatile.Read(ref _verifyStatus);

    /// <summary>
    /// Compares both images now, while the guest runs; with <paramref name="repair"/> copies what
    /// differs. Reports <see cref="IPrimaryHostActions.VerifyCompleted"/> under <paramref name="waiterId"/>,
    /// or <see cref="IPrimaryHostActions.VerifyFailed"/>.
    /// </summary>
    public void Verify(long waiterId, bool repair)
    {
        if (_engine is not { } engine)
        {
            _actions.VerifyFailed(waiterId, "the primary is not running");
            return;
        }

        if (_verify is not null)
        {
            _actions.VerifyFailed(waiterId, "a verify is already running");
            return;
        }

        if (engine.BeginVerify() is { } refused)
        {
            _actions.VerifyFailed(waiterId, refused);
            return;
        }

        _verify = new VerifyRun(waiterId, repair, _time.GetTimestamp());
        Log.VerifyStarted(_log, _options.ImageBytes, repair);
        NoteVerifyProgress();
    }

    private void OnVerifyResult(VerifyResultMessage result)
    {
        if (_engine?.OnChecksumResult(result.Offset, result.Length, result.Diverged) == true)
        {
            return; // an answer to the running sync's comparison
        }

        if (_verify is not { Repairing: false } run)
        {
            return; // a verify that already ended (failed) or moved on to its repair
        }

        run.Results++;
        run.BytesCompared += result.Length;
        run.Diverged.AddRange(result.Diverged);
        NoteVerifyProgress();
        FinishVerifyIfDone();
    }

    /// <summary>After every answer and acknowledgement: has the verify compared everything (and the repair, if any, been acknowledged)?</summary>
    private void FinishVerifyIfDone()
    {
        if (_verify is not { } run || _engine is not { } engine)
        {
            return;
        }

        if (run.Repairing)
        {
            if (!engine.IsRepairing && engine.LastAcknowledgedEpoch >= engine.RepairedThroughEpoch)
            {
                CompleteVerify(run, repaired: true);
            }

            return;
        }

        if (engine.IsVerifying || run.Results < engine.VerifyRecordsSent)
        {
            return;
        }

        if (run.Repair && run.Diverged.Count > 0)
        {
            if (engine.BeginRepair(run.Diverged) is { } refused)
            {
                FailVerify($"the repair could not start: {refused}");
                return;
            }

            run.Repairing = true;
            Log.RepairStarted(_log, run.Diverged.Count);
            FinishVerifyIfDone();
            return;
        }

        CompleteVerify(run, repaired: false);
    }

    private void CompleteVerify(VerifyRun run, bool repaired)
    {
        _verify = null;
        PrimaryEngine engine = _engine!;
        var report = new VerifyReport(
            run.BytesCompared,
            run.Diverged.Count,
            run.Diverged.Take(VerifyReport.MaxListed).ToList(),
            engine.VerifyReadsFailed,
            repaired,
            engine.LastAcknowledgedEpoch,
            _time.GetElapsedTime(run.Started).TotalSeconds);
        Log.VerifyCompleted(_log, report.BytesCompared, report.BlocksDiverged, report.Repaired, report.Seconds, report.MBps);
        Volatile.Write(ref _verifyStatus, string.Create(CultureInfo.InvariantCulture, $"last verify: {report.BytesCompared} bytes compared, {report.BlocksDiverged} blocks differed{(repaired ? " (repaired)" : string.Empty)}, {report.ReadsFailed} reads failed, {report.MBps} MB/s"));
        _actions.VerifyCompleted(run.WaiterId, report);
    }

    /// <summary>Replication degraded (or the repair could not start): the verify ends without a verdict.</summary>
    private void FailVerify(string reason)
    {
        if (_verify is not { } run)
        {
            return;
        }

        _verify = null;
        Volatile.Write(ref _verifyStatus, $"last verify failed: {reason}");
        Log.VerifyFailed(_log, reason);
        _actions.VerifyFailed(run.WaiterId, reason);
    }

    private void NoteVerifyProgress()
    {
        if (_verify is { } run)
        {
            Volatile.Write(ref _verifyStatus, string.Create(CultureInfo.InvariantCulture, $"verifying: {run.BytesCompared} of {_options.ImageBytes} bytes compared, {run.Diverged.Count} blocks differ"));
        }
    }

    private sealed class VerifyRun(long waiterId, bool repair, long started)
    {
        public long WaiterId { get; } = waiterId;

        public bool Repair { get; } = repair;

        public long Started { get; } = started;

        public List<long> Diverged { get; } = new();

        public long Results { get; set; }

        public long BytesCompared { get; set; }

        public bool Repairing { get; set; }
    }
}
