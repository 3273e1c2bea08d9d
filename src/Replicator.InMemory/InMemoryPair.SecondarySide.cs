using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.InMemory;

public sealed partial class InMemoryPair
{
    /// <summary>
    /// The secondary's surroundings: its image, a journal, a VM state store and a durable state
    /// record, with the engine's actions run one at a time in order, as the runtime does.
    /// </summary>
    private sealed class SecondarySide(InMemoryPair pair, VmState initialVm) : ISecondaryActions
    {
        private readonly Queue<Work> _work = new();
        private readonly List<JournalEntry> _journal = new();
        private (long Epoch, long LastSequence, VmState Vm) _durable = (0, 0, initialVm.Clone());

        public VmState VmState { get; private set; } = initialVm;

        public int PendingWork => _work.Count;

        public void DoNext()
        {
            Work work = _work.Dequeue();
            switch (work.Kind)
            {
                case WorkKind.Persist:
                    Persist((EpochLog)work.Item!);
                    break;
                case WorkKind.WriteImage:
                    MirrorRecord record = work.Record;
                    pair.SecondaryImage.Apply(record.Request, record.Payload.Span);
                    break;
                case WorkKind.Flush:
                    pair.SecondaryImage.Flush();
                    break;
                case WorkKind.ApplyVm:
                    VmState.Apply((VmSnapshot)work.Item!);
                    break;
                case WorkKind.MarkApplied:
                    _durable = (work.Record.Epoch, work.Record.Sequence, VmState.Clone());
                    _journal.RemoveAll(j => j.Checkpoint.Epoch <= work.Record.Epoch);
                    pair.Secondary.OnApplied(work.Record.Epoch);
                    break;
            }
        }

        public void PowerCut()
        {
            _work.Clear();
            VmState = _durable.Vm.Clone();
        }

        public SecondaryEngine Recover(SecondaryOptions options)
        {
            var engine = new SecondaryEngine(options, this, _durable.Epoch, _durable.LastSequence);
            pair.Secondary = engine;
            foreach (JournalEntry entry in _journal)
            {
                engine.RecoverCommittedEpoch(entry.Checkpoint, entry.Records);
            }

            return engine;
        }

        public void PersistEpoch(EpochLog epoch) => _work.Enqueue(new Work(WorkKind.Persist, default, epoch));

        public void AcknowledgeEpoch(long epoch) => pair._toPrimary.Enqueue(new PairMessage.Ack(epoch));

        public void WriteImage(in MirrorRecord record) => _work.Enqueue(new Work(WorkKind.WriteImage, record, null));

        public void FlushImage() => _work.Enqueue(new Work(WorkKind.Flush, default, null));

        public void ApplyVmSnapshot(VmSnapshot snapshot) => _work.Enqueue(new Work(WorkKind.ApplyVm, default, snapshot));

        public void MarkApplied(long epoch, long lastSequence) =>
            _work.Enqueue(new Work(WorkKind.MarkApplied, new MirrorRecord(epoch, lastSequence, default, default), null));

        public void ReturnCredit(long bytes) => pair._toPrimary.Enqueue(new PairMessage.Credit(bytes));

        public void RejectEpoch(long epoch, string reason) => pair._toPrimary.Enqueue(new PairMessage.Rejected(epoch, reason));

        public void Promoted(long epoch)
        {
            // The pair reads the outcome from the engine's phase and applied epoch.
        }

        /// <summary>Writes the epoch to the journal (durable at once in this model): the commit point.</summary>
        private void Persist(EpochLog log)
        {
            var records = new List<MirrorRecord>(log.Count);
            foreach (BufferedRecord held in log.Records)
            {
                records.Add(held.Record with { Payload = held.Record.Payload.ToArray() });
                pair.CommittedHistory.Record(held.Record.Request, held.Record.Payload.Span);
            }

            _journal.Add(new JournalEntry(log.Checkpoint!, records));
            pair.Secondary.OnEpochPersisted(log.Epoch);
            VerifyCommitted(log.Epoch);
        }

        /// <summary>I1: what the secondary now holds as committed equals the primary's state at the checkpoint.</summary>
        private void VerifyCommitted(long epoch)
        {
            byte[] disk = pair.SecondaryImage.Contents.ToArray();
            pair.Secondary.OverlayCommitted(0, disk);
            VmState vm = VmState.Clone();
            foreach (JournalEntry entry in _journal)
            {
                if (entry.Checkpoint.Epoch > vm.Epoch)
                {
                    vm.Apply(entry.Checkpoint.Snapshot);
                }
            }

            GuestCheckpoint? expected = pair.Guest.ExpectedAt(epoch);
            string? difference = vm.Epoch != epoch ? $"committed VM state is of epoch {vm.Epoch}"
                : expected is null ? "the guest has no record of it"
                : expected.Compare(disk, vm.Ram, vm.CpuState);
            if (difference is not null)
            {
                pair.Violations.Add($"I1: at commit of epoch {epoch}: {difference}");
            }
        }

        private enum WorkKind
        {
            Persist,
            WriteImage,
            Flush,
            ApplyVm,
            MarkApplied,
        }

        private readonly record struct Work(WorkKind Kind, MirrorRecord Record, object? Item);

        private sealed record JournalEntry(CheckpointRecord Checkpoint, List<MirrorRecord> Records);
    }
}
