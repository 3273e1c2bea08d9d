using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Sim.Faults;

namespace Replicator.Sim.Nodes;

/// <summary>The secondary's apply worker, its power cuts and failures, and its restart from durable state.</summary>
internal sealed partial class SimSecondary
{
    /// <summary>Loses power at the next point of this kind in the commit cycle (at once for anywhere), and restarts after <paramref name="restartAfter"/>.</summary>
    public void PowerCutAt(SecondaryCutPoint point, long restartAfter)
    {
        _restartAfter = restartAfter;
        if (point == SecondaryCutPoint.Anywhere)
        {
            PowerCut();
            return;
        }

        _cutWhen = point;
        _world.Clock.After(5 * _world.Scenario.EpochUs, () =>
        {
            if (_cutWhen is not null)
            {
                _cutWhen = null;
                PowerCut();
            }
        });
    }

    /// <summary>
    /// The host loses power: the disks keep a legal subset of their caches, RAM is gone, the link
    /// goes silent. I4: the image must be a legal crash state of the committed history.
    /// </summary>
    public void PowerCut()
    {
        if (Down || IsPromoted)
        {
            return;
        }

        _world.Trace.Event("secondary power cut", Engine.LastCommittedEpoch, Engine.LastAppliedEpoch);
        Down = true;
        Image.PowerCut(_world.Random.PowerCuts);
        Journal.PowerCut(_world.Random.PowerCuts);
        _world.Checker.SecondaryImageAfterPowerCut(Image.Memory.Contents);
        _world.Checker.RebaseHistory(Image.Memory.Contents);
        LoseProcess();
        _world.Clock.After(_restartAfter, Restart);
    }

    /// <summary>The daemon's process is killed: its socket closes, the disks keep their caches, it is restarted after <paramref name="restartAfter"/>.</summary>
    public void Kill(long restartAfter) => FailStop("the process was killed", restartAfter);

    /// <summary>The daemon stops on a storage error it cannot get past (as the real one exits): its socket closes; the disks keep their caches.</summary>
    private void FailStop(string reason, long? restartAfter = null)
    {
        if (Down || IsPromoted)
        {
            return;
        }

        _world.Trace.Event("secondary failed", Engine.LastCommittedEpoch);
        _world.Trace.Note(() => $"secondary stopped: {reason}");
        Down = true;
        Image.AbandonInFlight();
        Journal.AbandonInFlight();
        if (_link is not null)
        {
            _world.Network.Close(_link.Connection, $"the secondary stopped: {reason}", this);
        }

        LoseProcess();
        _world.Clock.After(restartAfter ?? _world.Random.Faults.Next(1, 20) * 1000L, Restart);
    }

    private void LoseProcess()
    {
        _work.Clear();
        _working = false;
        _recoveringTo = -1;
        Vm = _durable.Vm.Clone();
    }

    /// <summary>
    /// Starts again from the state record and the journal, as the daemon does: epochs whole in the
    /// journal are committed and are applied again. A journal that cannot be read is retried.
    /// </summary>
    public void Restart()
    {
        if (!Down)
        {
            return;
        }

        if (_world.Faults.Fails(DiskId.SecondaryJournal, DiskFailure.Read, _world.Clock.Now))
        {
            _world.Trace.Event("secondary restart failed");
            _world.Clock.After(5_000, Restart);
            return;
        }

        Down = false;
        _link = null;
        _pendingLink = null;
        Journal.SyncOnRecovery();
        Engine = new SecondaryEngine(_options, this, _durable.Epoch, _durable.LastSequence, _durable.MidResync);
        _historyCursor = default;
        foreach (var entry in Journal.Entries)
        {
            if (entry.Checkpoint.Epoch > _durable.Epoch)
            {
                _applyRecords[entry.Checkpoint.Epoch] = entry.Records.ToList();
                _midResync[entry.Checkpoint.Epoch] = entry.Checkpoint.ResyncPending;
                Engine.RecoverCommittedEpoch(entry.Checkpoint, entry.Records);
            }
        }

        _recoveringTo = Engine.LastCommittedEpoch;
        _recoveringMidResync = Engine.CommittedMidResync;
        _world.Trace.Event("secondary restarted", _durable.Epoch, _recoveringTo);
        CheckRecovered();
        _world.Clock.After(_world.Scenario.HeartbeatUs, HeartbeatTick);
    }

    private void CheckRecovered()
    {
        if (_recoveringTo >= 0 && Engine.LastAppliedEpoch == _recoveringTo)
        {
            _world.Checker.RecoveredTo(_recoveringTo, Image.Memory.Contents, Vm, _recoveringMidResync);
            _recoveringTo = -1;
        }
    }

    private void Enqueue(Work work)
    {
        _work.Enqueue(work);
        if (!_working)
        {
            _working = true;
            _world.Clock.After(0, RunNext);
        }
    }

    private void RunNext()
    {
        if (Down || !_work.TryDequeue(out Work work))
        {
            _working = false;
            return;
        }

        SecondaryEngine engine = Engine;
        void Then(Action? engineEvent = null) => _world.Clock.After(0, () =>
        {
            if (Down || engine != Engine)
            {
                return;
            }

            engineEvent?.Invoke();
            RunNext();
        });

        switch (work.Kind)
        {
            case WorkKind.Write:
                MirrorRecord record = work.Record;
                ReadOnlyMemory<byte> payload = record.Payload.ToArray();
                TriggerCut(SecondaryCutPoint.DuringApply);
                Image.Submit(record.Request, payload, ok =>
                {
                    if (ok)
                    {
                        // Into the history once it happened: a write that failed never did.
                        RecordAppliedThrough(record.Epoch, record.Sequence);
                        Then();
                    }
                    else
                    {
                        FailStop($"writing epoch {record.Epoch} record {record.Sequence} into the image failed");
                    }
                });
                break;
            case WorkKind.Flush:
                Image.Submit(BlockRequest.Flush(), default, ok =>
                {
                    if (ok)
                    {
                        Then();
                    }
                    else
                    {
                        // After a failed flush nothing is known about what reached the disk.
                        FailStop("flushing the image failed");
                    }
                });
                break;
            case WorkKind.ApplyVm:
                Vm.Apply(work.Snapshot!);
                Then();
                break;
            case WorkKind.MarkApplied:
                long epoch = work.Record.Epoch;
                long lastSequence = work.Record.Sequence;
                RecordAppliedThrough(epoch, long.MaxValue);
                // The state record: write a new file, sync it, rename it over the old one, sync the directory.
                _world.Clock.After(2 * _world.Scenario.SecondaryDisk.FlushUs, () =>
                {
                    if (Down || engine != Engine)
                    {
                        return;
                    }

                    // The state record keeps whether the epoch left the image mid-resync, as the daemon's does.
                    _durable = (epoch, lastSequence, Vm.Clone(), _midResync.GetValueOrDefault(epoch));
                    Journal.Compact(epoch);
                    _applyRecords.Remove(epoch);
                    _midResync.Remove(epoch);
                    Engine.OnApplied(epoch);
                    CheckRecovered();
                    RunNext();
                });
                break;
        }
    }

    private void TriggerCut(SecondaryCutPoint point)
    {
        if (_cutWhen == point)
        {
            _cutWhen = null;
            // Somewhere inside the write that is starting now.
            _world.Clock.After(_world.Random.Faults.NextInt64(1 + _world.Scenario.SecondaryDisk.WriteUs + _world.Scenario.JournalDisk.FlushUs), PowerCut);
        }
    }
}
