using Microsoft.Extensions.Logging.Abstractions;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.InMemory;

public sealed partial class InMemoryPair
{
    /// <summary>
    /// The secondary's shell: its host's storage operations queued on the journal and apply lanes and
    /// run, when the scheduler picks a lane, by the host's own worker on the in-memory image and state
    /// directory; its frames onto the links. It can lose power and restart from what storage kept.
    /// Around each storage operation it observes what the checks need.
    /// </summary>
    private sealed class SecondaryShell(InMemoryPair pair, SecondaryHostOptions options) : ISecondaryHostActions
    {
        private readonly Queue<SecondaryStorageOperation> _journal = new();
        private readonly Queue<SecondaryStorageOperation> _apply = new();

        // What the host is handling now, if a close it asks for would be a refusal of the primary.
        private string? _handling;

        public SecondaryHost Host { get; private set; } = null!;

        public bool Down { get; private set; }

        public bool JournalPending => _journal.Count > 0;

        public bool ApplyPending => _apply.Count > 0;

        /// <summary>The committed VM state: what the RAM image holds, with every committed snapshot not yet applied laid over it.</summary>
        public VmState CommittedVm { get; private set; } = null!;

        /// <summary>Applied epochs from this one on are checked; earlier ones were replayed from the journal over a crash state.</summary>
        public long CheckAppliedFrom { get; private set; }

        /// <summary>Recovery, as the daemon starts: the host opens the image and the state directory and replays the journal.</summary>
        public void Start()
        {
            Host = new SecondaryHost(options, this, NullLogger.Instance, pair._clock);
            Host.Start(new MemoryBlockDevice("secondary.img", pair.SecondaryImage), pair.SecondaryState);
            SecondaryStore store = Host.Store!;
            CommittedVm = store.LoadVmState();
            foreach (JournalEntry entry in store.Unapplied)
            {
                CommittedVm.Apply(entry.Checkpoint.Snapshot);
            }

            // Until the last replayed epoch is applied, the image may still hold torn writes of later
            // replayed epochs (from before the power cut): only then is it a checkpoint again.
            CheckAppliedFrom = Host.Engine!.LastCommittedEpoch;
        }

        /// <summary>The power goes: work in progress is lost, the disks keep a legal subset of their caches.</summary>
        public void PowerCut(Random random)
        {
            Down = true;
            _journal.Clear();
            _apply.Clear();
            Host.Store?.Dispose();
            pair.SecondaryImage.PowerCut(random);
            pair.SecondaryState.PowerCut(random);
        }

        public void Restart()
        {
            Down = false;
            Start();
        }

        public void Deliver(LinkId link, in SecondaryInput input)
        {
            // Closing in answer to the primary's own last word is no refusal.
            _handling = input.Kind == SecondaryInputKind.PeerError ? null : $"a {input.Kind} frame";
            Host.OnInput(link, input);
            _handling = null;
            pair.CheckBufferBound(Host.Engine!);
        }

        public void HeartbeatTick()
        {
            _handling = "its heartbeat tick";
            Host.OnHeartbeatTick();
            _handling = null;
        }

        /// <summary>The journal lane's next operation: an epoch appended and made durable (the commit point), or a failover's record.</summary>
        public void RunJournal()
        {
            SecondaryStorageOperation op = _journal.Dequeue();
            SecondaryStorageCompletion completion = Host.Storage.Run(op);
            if (completion.Result != SecondaryStorageResult.Done || op.Kind != SecondaryStorageKind.Persist)
            {
                // As the daemon does: only what the host acts on goes back to it.
                if (completion.MattersToHost)
                {
                    Host.OnStorageCompleted(completion);
                }

                return;
            }

            EpochLog epoch = op.Epoch!;
            foreach (BufferedRecord held in epoch.Records)
            {
                pair.CommittedHistory.Record(held.Record.Request, held.Record.Payload.Span);
            }

            CheckpointRecord checkpoint = epoch.Checkpoint!;
            CommittedVm.Apply(checkpoint.Snapshot);
            Host.OnStorageCompleted(completion);
            pair.CheckCommitted(checkpoint);
        }

        /// <summary>The apply lane's next operation: a write, a flush, RAM pages, or the state record that ends an epoch's apply.</summary>
        public void RunApply()
        {
            SecondaryStorageOperation op = _apply.Dequeue();
            SecondaryStorageCompletion completion = Host.Storage.Run(op);
            if (completion.MattersToHost)
            {
                Host.OnStorageCompleted(completion);
            }

            if (op.Kind == SecondaryStorageKind.MarkApplied && completion.Result == SecondaryStorageResult.Done)
            {
                pair.CheckApplied(op.Number);
            }
        }

        public void Send<T>(LinkId link, FrameType type, T message)
        {
            if (message is RejectMessage reject)
            {
                pair.Violations.Add($"the secondary rejected epoch {reject.Epoch}: {reject.Reason}");
            }

            pair.SendFromSecondary(link, type, message);
        }

        public void Close(LinkId link, string reason, bool fenced = false)
        {
            // Nothing in these scenarios should make the secondary refuse its primary or let a link go
            // silent; a fenced close belongs to a promotion.
            if (_handling is not null && !fenced)
            {
                pair.Violations.Add($"the secondary closed link {link} on {_handling}: {reason}");
            }

            pair.CloseFromSecondary(link, reason, fenced);
        }

        public void RunStorage(in SecondaryStorageOperation operation) =>
            (operation.Lane == SecondaryStorageLane.Journal ? _journal : _apply).Enqueue(operation);

        public void Promoted(long epoch)
        {
            // The host keeps the promoted epoch; failover reads it there.
        }

        public void Halt(string reason) => pair.Violations.Add($"the secondary halted: {reason}");

        // The in-memory pair has no witness: no failover ever goes to one.
        public void PromotionRefused(string reason) => pair.Violations.Add($"a failover went to a witness the pair has none of: {reason}");

        // The in-memory pair runs two nodes, no witness and no fence command; its hosts are never given either.
        public void ConnectWitness(TimeSpan timeout) => throw new NotSupportedException("the in-memory pair has no witness");

        public void RunFence(FenceRequest request) => throw new NotSupportedException("the in-memory pair runs no fence command");
    }
}
