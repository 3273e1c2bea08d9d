using Replicator.Hosts.Primary;
using Replicator.Protocol.Messages;
using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;

namespace Replicator.Sim.Nodes;

/// <summary>
/// An operator stopping and starting the primary's daemon: a clean stop (guest quiet, a last
/// checkpoint, the state record saying where both images are equal) and a start from it; a start
/// after a crash; and a primary of another configuration started against this secondary by
/// mistake. What a start must come to is known from what came before it, and checked.
/// </summary>
internal sealed partial class PrimaryShell
{
    // Starts that end Unreachable (or refused, when they should run) are retried, as an operator
    // or a service manager would.
    private const int StartAttempts = 20;

    private StartExpectation _expectation = StartExpectation.Runs;
    private PrimaryRestart? _pendingRestart;
    private int _startAttempt;
    private long _cleanStopEpoch = -1;
    private bool _retired;
    private bool _misdirected;
    private bool _everRan;

    // A primary that did not stop cleanly runs again: until its first resync start (which must copy
    // the whole image), nothing may be mirrored or checkpointed.
    private bool _mustSyncWholeFirst;

    /// <summary>What the next start must come to.</summary>
    private enum StartExpectation
    {
        /// <summary>The images are known equal (a fresh pair, or a clean stop the secondary holds): the pair runs again.</summary>
        Runs,

        /// <summary>
        /// The last stop was not clean: the pair runs again, but the primary's image may hold writes
        /// the secondary never saw, so the first thing the new stream does is copy the whole image.
        /// </summary>
        SyncsWhole,
    }

    /// <summary>The operator's restart, drawn as a fault. Ignored while the primary is already down or busy restarting.</summary>
    public void Restart(PrimaryRestart kind)
    {
        if (Crashed || _retired || _pendingRestart is not null || Engine is null)
        {
            return;
        }

        _pendingRestart = kind;
        _world.Trace.Event("primary restart", (long)kind);
        if (kind == PrimaryRestart.AfterCrash)
        {
            // Half of them lose the host's power: the image keeps only what was flushed, the dirty
            // log only what was synced — and what the log names must still cover what the secondary lacks.
            Crash(processKilled: _world.Random.PrimaryPower.NextDouble() < 0.5);
            _world.Clock.After(_world.Random.Faults.Next(1, 20) * 1000L, StartAgain);
            return;
        }

        // A clean stop: the guest goes quiet first (its requests drain), then a last checkpoint.
        _guestRunning = false;
        WaitForQuietGuest(_incarnation);
    }

    /// <summary>The run is over for the primary: it dies now and no operator starts it again.</summary>
    public void Retire(bool processKilled)
    {
        _retired = true;
        Crash(processKilled);
    }

    private void WaitForQuietGuest(int incarnation) => OnHost(incarnation, () =>
    {
        if (Engine is { } engine && engine.InFlightCount + engine.QueuedCount > 0)
        {
            _world.Clock.After(_world.Scenario.ThinkUs + 1, () => WaitForQuietGuest(incarnation));
            return;
        }

        Host.StopCleanly(waiterId: incarnation);
    });

    /// <summary>The daemon exits once its loop has handled this event: the stop is its next one, not inside the host's call.</summary>
    private void OnCleanStopAcknowledged(long waiterId, long epoch)
    {
        _world.Trace.Event("primary stopped cleanly", epoch);
        _cleanStopEpoch = epoch;
        int incarnation = _incarnation;
        _world.Clock.After(0, () => OnHost(incarnation, () => Stopped(StartExpectation.Runs)));
    }

    private void OnCleanStopFailed(long waiterId, string reason)
    {
        // The daemon's stop goes on without the last checkpoint: the state record keeps saying the
        // images are not known equal, so the next start must copy the whole image.
        _world.Trace.Note(() => $"primary's clean stop failed: {reason}");
        int incarnation = _incarnation;
        _world.Clock.After(0, () => OnHost(incarnation, () => Stopped(StartExpectation.SyncsWhole)));
    }

    /// <summary>The daemon exits after its stop; the operator starts it again shortly after.</summary>
    private void Stopped(StartExpectation next)
    {
        if (Crashed)
        {
            return;
        }

        Host.Stop();
        GoDown("the primary stopped");
        _expectation = next;
        _world.Clock.After(_world.Random.Faults.Next(1, 20) * 1000L, StartAgain);
    }

    /// <summary>The process starts again, on the same disk and state directory, with the kind of start the restart drew.</summary>
    private void StartAgain()
    {
        if (!Crashed || _retired)
        {
            return;
        }

        PrimaryRestart kind = _pendingRestart ?? PrimaryRestart.Clean;
        PrimaryHostOptions options = Options();
        bool misdirected = kind is not (PrimaryRestart.Clean or PrimaryRestart.AfterCrash);
        if (kind == PrimaryRestart.AfterCrash)
        {
            _expectation = StartExpectation.SyncsWhole;

            // The guest runs again on what the crash left on the primary's disk: writes in flight
            // at the crash may or may not be there, and what it sees from now on is what is.
            Guest.RestartOnDisk(Disk.Memory.Contents);
        }
        else if (_requests.Count > 0 || _guestUnsureOfDisk)
        {
            // A stop that left answers unsent (held for a majority that never came), or writes
            // failed for a fence rather than a disk error: they may be on the disk, their guest
            // never heard so; it sees from now on what is there.
            Guest.RestartOnDisk(Disk.Memory.Contents);
            _requests.Clear();
        }

        _guestUnsureOfDisk = false;

        if (misdirected)
        {
            // Another pair's daemon (or this one with a mistyped option) pointed at this secondary:
            // nothing it holds may be trusted, whatever its own (fresh) state record says.
            options = kind switch
            {
                PrimaryRestart.OtherPair => options with { PairId = "another-pair" },
                PrimaryRestart.OtherSize => options with { ImageBytes = options.ImageBytes + options.BlockSize },
                PrimaryRestart.OtherBlockSize => options with { BlockSize = options.BlockSize / 8 },
                PrimaryRestart.OtherVersion => options with { ProtocolVersion = options.ProtocolVersion + 1 },
                _ => options with { MaxRequestBytes = options.MaxRequestBytes / 2 },
            };

            // Its start is judged by the handshake alone: it must never be welcomed (running alone, it would not be).
            options = options with { StartWithoutSecondary = false };
        }

        _world.Trace.Event("primary starting", (long)kind);
        _incarnation++;
        // A daemon of another version is this pair's own primary (its state record agrees), so only
        // the version can stop it; one of another pair or size is another machine's daemon.
        Host = misdirected && kind != PrimaryRestart.OtherVersion
            ? new PrimaryHost(options, new MemoryStorageDirectory("misdirected-primary-state"), new Actions(this), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, _time)
            : NewHost(options);
        _misdirected = misdirected;
        _mustSyncWholeFirst = _expectation == StartExpectation.SyncsWhole && !misdirected;
        Start();
    }

    /// <summary>A start that did not run: checked against what it should have come to, then retried, corrected or left down.</summary>
    private void OnStartFailed(PrimaryStart start)
    {
        bool misdirected = _misdirected;
        GoDown(null);
        // A start that should run and is refused is tried again too: the secondary may not have
        // heard yet that the stopped primary's link closed, or may still be draining its session.
        bool mayPass = start.Outcome == PrimaryStartOutcome.Unreachable
            || (start.Outcome == PrimaryStartOutcome.Refused && !misdirected);
        if (mayPass && ++_startAttempt < StartAttempts)
        {
            _world.Clock.After(_world.Scenario.HeartbeatTimeoutUs, StartAgain);
            return;
        }

        _startAttempt = 0;
        if (misdirected)
        {
            // The operator notices and starts the right daemon.
            _pendingRestart = PrimaryRestart.Clean;
            _misdirected = false;
            _world.Clock.After(_world.Random.Faults.Next(1, 20) * 1000L, StartAgain);
            return;
        }

        // (A secondary that took over meanwhile, on auto-failover over a slow link, refuses rightly.)
        bool secondaryTookOver = _world.Secondary.IsPromoted || (!_world.Secondary.Down && _world.Secondary.Host.IsPromoted);
        if (!_everRan && start.Outcome != PrimaryStartOutcome.Unreachable && !secondaryTookOver)
        {
            _world.Checker.Fail($"the pair did not start ({start.Outcome}): {start.Reason}");
        }

        if (start.Outcome == PrimaryStartOutcome.Refused && _expectation == StartExpectation.Runs && SecondaryHoldsCleanStop())
        {
            _world.Checker.Fail($"a primary that stopped cleanly at checkpoint {_cleanStopEpoch} was refused by a secondary holding it: {start.Reason}");
        }

        // Refused or fenced for good: the daemon exits and stays down (an operator must act).
        _pendingRestart = null;
    }

    /// <summary>The secondary is up as this pair's secondary, holding exactly the clean stop's checkpoint and nothing buffered.</summary>
    private bool SecondaryHoldsCleanStop() =>
        _cleanStopEpoch >= 0
        && !_world.Secondary.Down && !_world.Secondary.IsPromoted && !_world.Secondary.JournalFailed
        && _world.Secondary.Host.Engine is { } engine
        && engine.LastCommittedEpoch == _cleanStopEpoch && engine.BufferedBytes == 0;

    /// <summary>The connection was opened by a daemon that is not this pair's primary as configured: no secondary may welcome it.</summary>
    public bool IsMisdirected(SimConnection connection) => _misdirected && !Crashed && _links.ContainsKey(connection);

    /// <summary>What the stream of a primary that did not stop cleanly sends first must be a whole-image resync start.</summary>
    private void CheckFirstSend(object message)
    {
        if (!_mustSyncWholeFirst || message is HelloMessage or HeartbeatMessage)
        {
            return;
        }

        _mustSyncWholeFirst = false;
        if (message is not ResyncStartMessage start || (!start.WholeImage && Host.RestoredDirtyLog is null))
        {
            _world.Checker.Fail($"a primary that did not stop cleanly replicated ({message.GetType().Name}) before copying its whole image or what its dirty log names: its image may hold writes the secondary never saw");
            return;
        }

        // No full copy where the dirty log suffices: a log that names the generation the secondary's
        // welcome said it holds, and a checkpoint no newer than the one it said it committed. (A
        // secondary whose sync-completing epoch is committed but not yet applied still names its old
        // generation: a whole copy then is slower, not wrong.)
        if (start.WholeImage && Host.RestoredDirtyLog is { AcknowledgedGeneration: not 0 } log
            && LastWelcome is { Generations.Current: { } current } said && (ulong)current.Id == log.AcknowledgedGeneration
            && said.LastCommittedEpoch >= log.AcknowledgedEpoch)
        {
            _world.Checker.Fail($"a full copy where the dirty log sufficed: it names the secondary's generation and checkpoint {log.AcknowledgedEpoch}, the secondary said it holds {said.LastCommittedEpoch}");
        }
    }

    /// <summary>A start that runs must have been allowed to.</summary>
    private void CheckAllowedToRun()
    {
        _startAttempt = 0;
        _everRan = true;
        if (_misdirected)
        {
            _world.Checker.Fail("handshake: the secondary welcomed a primary that is not this pair's (another pair, size, block size, largest request or protocol version)");
        }

        _pendingRestart = null;
    }
}
