using System.Collections.Concurrent;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Storage;
using Replicator.Core.Testing;
using Replicator.Core.Vm;
using Replicator.Hosts.Testing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Storage;

/// <summary>
/// Everything the secondary keeps on disk, and the storage half of its actions: the image, the
/// RAM image (one page per snapshot page), the commit journal, and the state record naming the
/// checkpoint image and RAM hold. The driver calls these one at a time, in the order the engine
/// asked for them.
/// </summary>
public sealed class SecondaryStore : IDisposable
{
    private readonly NodeStateStore _states;

    // Whether each journalled epoch leaves the image mid-resync: written by the journal worker,
    // read by the apply worker when the epoch's state record is written.
    private readonly ConcurrentDictionary<long, bool> _midResync = new();
    private byte[] _pendingCpu = [];

    // RAM pages written since the RAM image's last flush: a write-back batch without pages (a pair
    // with no VM, an idle guest) makes no flush of its own. True at first, for what an earlier
    // process may have left unflushed. Read and written on the apply lane only.
    private bool _ramUnflushed = true;

    public const string RamFileName = "ram.img";

    private readonly TakeoverDrainStore _drains;

    // The state record and the takeover's drain record are written from two lanes (a promotion's
    // record beside the write-back's): one write at a time, each from the other's result.
    private readonly Lock _stateWrites = new();

    private SecondaryStore(IBlockDevice image, IBlockDevice ram, int pageSize, EpochJournal journal, NodeStateStore states, NodeState state, List<JournalEntry> unapplied, TakeoverDrainStore drains, TakeoverDrain? drain)
    {
        Image = image;
        Ram = ram;
        PageSize = pageSize;
        Journal = journal;
        _states = states;
        State = state;
        Unapplied = unapplied;
        _drains = drains;
        Drain = drain;
        foreach (JournalEntry entry in unapplied)
        {
            _midResync[entry.Checkpoint.Epoch] = entry.Checkpoint.ResyncPending;
        }
    }

    public IBlockDevice Image { get; }

    public IBlockDevice Ram { get; }

    public int PageSize { get; }

    public EpochJournal Journal { get; }

    /// <summary>Where the state record lives, for messages.</summary>
    public string StatePath => _states.Path;

    /// <summary>The durable state record: which checkpoint image and RAM image hold.</summary>
    public NodeState State { get; private set; }

    /// <summary>
    /// The takeover this promoted node is writing back, or has written back, its committed epochs
    /// for; null on a node that never took over (or was demoted since). While it is set the state
    /// record is the new primary's: how far the image holds the checkpoint is recorded here instead.
    /// </summary>
    public TakeoverDrain? Drain { get; private set; }

    /// <summary>The last epoch image and RAM image hold durably (the drain's, while one is recorded).</summary>
    public long AppliedEpoch => Drain?.AppliedEpoch ?? State.AppliedEpoch;

    /// <summary>The vCPU state of <see cref="AppliedEpoch"/>.</summary>
    public byte[] AppliedCpuState => Drain?.CpuState ?? State.CpuState;

    /// <summary>Whether <see cref="AppliedEpoch"/> left the image mid-resync.</summary>
    public bool AppliedMidResync => Drain?.MidResync ?? State.MidResync;

    /// <summary>Where the takeover drain record is, for messages.</summary>
    public string DrainPath => _drains.Path;

    /// <summary>Committed epochs found in the journal at start-up that the image does not hold yet, in order.</summary>
    public IReadOnlyList<JournalEntry> Unapplied { get; }

    /// <summary>
    /// Opens the secondary's storage over <paramref name="image"/> (which it then owns) and the state
    /// directory: on first use a RAM image of <paramref name="ramBytes"/> and a state record for
    /// <paramref name="pairId"/> are created; later opens must name the same pair. With
    /// <paramref name="discardUnverifiable"/> (the operator forces promotion) a damaged journal is
    /// read up to its damage and kept as evidence instead of refused, and what lies beyond is
    /// discarded (<see cref="EpochJournal.Damage"/> says what).
    /// </summary>
    public static SecondaryStore Open(IBlockDevice image, IStorageDirectory stateDirectory, string pairId, long ramBytes, int pageSize, PlantedBug plant = PlantedBug.None, long journalSwitchAboveBytes = EpochJournal.DefaultSwitchAboveBytes, bool discardUnverifiable = false, int journalStagingBytes = EpochJournal.DefaultStagingBytes)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(stateDirectory);
        IBlockDevice? ram = null;
        EpochJournal? journal = null;
        try
        {
            var states = new NodeStateStore(stateDirectory);
            NodeState state = states.Load() ?? new NodeState { PairId = pairId, Role = NodeRole.Secondary, JournalSalt = NewJournalSalt() };
            if (!string.Equals(state.PairId, pairId, StringComparison.Ordinal))
            {
                throw new InvalidDataException($"state directory {stateDirectory.Location} belongs to pair '{state.PairId}', not '{pairId}'");
            }

            bool demoting = state.Role == NodeRole.Primary && !state.PrimaryByPromotion;
            foreach (string file in demoting ? EpochJournal.FileNames : [])
            {
                if (stateDirectory.Exists(file))
                {
                    // A journal from an earlier life of this node as a secondary: everything in it was
                    // drained before that node became primary, or was never acknowledged. Kept aside
                    // (not deleted), and never replayed over the new primary's stream.
                    stateDirectory.Replace(file, BeforeDemotionName(file));
                    stateDirectory.Sync();
                }
            }

            bool createRam = !stateDirectory.Exists(RamFileName);
            ram = createRam ? stateDirectory.Create(RamFileName, ramBytes) : stateDirectory.Open(RamFileName);
            if (createRam)
            {
                ram.Flush();
                stateDirectory.Sync();
            }

            if (ram.Size != ramBytes)
            {
                throw new InvalidDataException($"RAM image {ram.Name} is {ram.Size} bytes; the guest has {ramBytes}");
            }

            // The journal is read (and may be refused) before the state record is written: a
            // refusal leaves the state directory as it found it.
            // A node that promotes, or was promoted, never journals again: its journal is read
            // without being changed, and damage in it is reported rather than refused.
            if (demoting)
            {
                state = Demoted(state);
            }

            var drains = new TakeoverDrainStore(stateDirectory);
            TakeoverDrain? drain = drains.Load();
            if (drain is not null && state.Role == NodeRole.Secondary)
            {
                // Written just before a promotion that was never recorded, or left by a promoted node
                // demoted since: no takeover stands behind it.
                drains.Delete();
                drain = null;
            }

            long applied = drain?.AppliedEpoch ?? state.AppliedEpoch;
            JournalDamagePolicy policy = discardUnverifiable || state.Role != NodeRole.Secondary ? JournalDamagePolicy.KeepAsEvidence : JournalDamagePolicy.Refuse;
            List<JournalEntry> entries;
            journal = plant == PlantedBug.JournalSkipBadEntry
                ? PlantedJournalSkip.Open(stateDirectory, out entries, applied, state.JournalSalt, journalSwitchAboveBytes, policy)
                : EpochJournal.Open(stateDirectory, out entries, applied, state.JournalSalt, journalSwitchAboveBytes, policy, journalStagingBytes);
            states.Save(state);

            // A promoted node replays only the committed epochs its takeover has not yet written
            // back: an entry beyond the checkpoint it took over at is an append that failed (never
            // acknowledged) and must never be replayed over the new primary's data.
            long takenOverAt = state.Role == NodeRole.Secondary ? long.MaxValue : drain?.Epoch ?? applied;
            entries.RemoveAll(e => e.Checkpoint.Epoch <= applied || e.Checkpoint.Epoch > takenOverAt);
            if (state.Role != NodeRole.Secondary && entries.Count == 0)
            {
                journal.Release(long.MaxValue);
            }

            return new SecondaryStore(image, ram, pageSize, journal, states, state, entries, drains, drain);
        }
        catch
        {
            image.Dispose();
            ram?.Dispose();
            journal?.Dispose();
            throw;
        }
    }

    /// <summary>What a former primary's journal is kept as when it comes back as a secondary.</summary>
    public const string JournalBeforeDemotionName = "journal.before-demotion.bin";

    /// <summary>What each of the journal's files is kept as when a former primary comes back as a secondary.</summary>
    public static string BeforeDemotionName(string journalFile) =>
        journalFile == EpochJournal.FileName ? JournalBeforeDemotionName : journalFile.Replace(".bin", ".before-demotion.bin", StringComparison.Ordinal);

    /// <summary>
    /// A node that was made primary by <c>replicator primary</c> starts as a secondary: its image
    /// holds its own data generation plus writes its new primary may lack, so it is no checkpoint
    /// (never promoted) until a sync from the new primary completes. Its generations stay (they say
    /// how its data relates to the new primary's) and so does its dirty log's id (the log names
    /// the writes to roll back).
    /// </summary>
    private static NodeState Demoted(NodeState state) => state with
    {
        Role = NodeRole.Secondary,
        FormerPrimary = true,
        PrimaryByPromotion = false,
        PromotedFrom = null,
        AppliedEpoch = 0,
        AppliedLastSequence = 0,
        MidResync = true,
        SyncTarget = null,
        SyncFirstEpoch = 0,
        CpuState = [],
        JournalSalt = state.JournalSalt != 0 ? state.JournalSalt : NewJournalSalt(),
    };

    /// <summary>A salt no guest can guess (a state record of a version before the salt keeps its 0).</summary>
    internal static long NewJournalSalt() => BitConverter.ToInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));

    /// <summary>Builds a secondary engine that continues from this storage, replaying the unapplied journal entries.</summary>
    public SecondaryEngine CreateEngine(SecondaryOptions options, ISecondaryActions actions)
    {
        var engine = Drain is { } drain
            ? new SecondaryEngine(options, actions, drain.AppliedEpoch, drain.AppliedLastSequence, drain.MidResync)
            : new SecondaryEngine(options, actions, State.AppliedEpoch, State.AppliedLastSequence, State.MidResync);
        foreach (JournalEntry entry in Unapplied)
        {
            try
            {
                engine.RecoverCommittedEpoch(entry.Checkpoint, entry.Records);
            }
            catch (InvalidOperationException e)
            {
                // An entry whose checksum holds but whose epoch is not whole, or does not follow what
                // the state record says the image holds: what this node holds cannot be verified.
                throw new InvalidDataException($"journal {Journal.Name} cannot be replayed onto state record {StatePath}: {e.Message}; nothing was changed", e);
            }
        }

        return engine;
    }

    /// <summary>
    /// Appends the sealed epoch to the journal and makes it durable (the commit point), remembering
    /// whether it leaves the image mid-resync for its state record. Returns the <paramref name="time"/>
    /// timestamp between the journal write and its flush (0 without a time provider).
    /// </summary>
    public long Persist(EpochLog epoch, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(epoch);
        _midResync[epoch.Epoch] = epoch.Checkpoint!.ResyncPending;
        return Journal.Append(epoch, time);
    }

    public void WriteImage(in MirrorRecord record) => Image.Apply(record.Request, record.Payload.Span);

    /// <summary>
    /// A verify record: the image's blocks over its range, as they are now (after every record
    /// before it was applied, before any after it), hashed and compared with what the primary's
    /// disk held there. Returns what to tell the primary.
    /// </summary>
    public VerifyResultMessage Verify(in MirrorRecord record)
    {
        int length = record.Request.Length;
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            Image.Read(record.Request.Offset, buffer.AsSpan(0, length));
            var diverged = new List<long>();
            VerifyBlocks.Compare(record.Request.Offset, buffer.AsSpan(0, length), record.Payload.Span, diverged);
            return new VerifyResultMessage { Epoch = record.Epoch, Sequence = record.Sequence, Offset = record.Request.Offset, Length = length, Diverged = [.. diverged] };
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void FlushImage() => Image.Flush();

    public void ApplyVmSnapshot(VmSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        foreach (VmPage page in snapshot.Pages)
        {
            Ram.Write(page.Index * PageSize, page.Data.Span);
            _ramUnflushed = true;
        }

        _pendingCpu = snapshot.CpuState;
    }

    /// <summary>
    /// Records durably that image and RAM hold <paramref name="epoch"/> (the last of a write-back
    /// batch), then releases the journal space of every epoch up to it. The epoch that completes a
    /// sync also gives the node the primary's data generations.
    /// </summary>
    public void MarkApplied(long epoch, long lastSequence)
    {
        if (_ramUnflushed)
        {
            Ram.Flush();
            _ramUnflushed = false;
        }

        _midResync.TryRemove(epoch, out bool midResync);
        foreach (long earlier in _midResync.Keys)
        {
            if (earlier < epoch)
            {
                _midResync.TryRemove(earlier, out _);
            }
        }

        lock (_stateWrites)
        {
            if (Drain is { } drain)
            {
                // The state record is the new primary's now: the takeover's own record says how far it got.
                Drain = drain with { AppliedEpoch = epoch, AppliedLastSequence = lastSequence, CpuState = _pendingCpu, MidResync = midResync };
                _drains.Save(Drain);
            }
            else
            {
                State = CompletingSync(State with { AppliedEpoch = epoch, AppliedLastSequence = lastSequence, CpuState = _pendingCpu, MidResync = midResync }, epoch, midResync);
                _states.Save(State);
            }
        }

        Journal.Release(epoch);
    }

    /// <summary>
    /// The state once the image holds <paramref name="epoch"/>: when that completes the sync the
    /// record names, the image holds the primary's data generations — and a former primary's own
    /// writes are rolled back by now, so its dirty log says nothing any more.
    /// </summary>
    private static NodeState CompletingSync(NodeState state, long epoch, bool midResync) =>
        state.SyncTarget is { } target && epoch >= state.SyncFirstEpoch && !midResync
            ? state with { Generations = target, SyncTarget = null, SyncFirstEpoch = 0, FormerPrimary = false, DirtyLogId = 0 }
            : state;

    /// <summary>
    /// Records durably, before any epoch of the sync is applied, which data generations the image
    /// will hold once the sync starting at <paramref name="firstEpoch"/> completes.
    /// </summary>
    public void RecordSyncTarget(DataGenerations target, long firstEpoch)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_stateWrites)
        {
            State = State with { SyncTarget = target, SyncFirstEpoch = firstEpoch };
            _states.Save(State);
        }
    }

    /// <summary>Records durably the generation a vote is asked for (<see cref="NodeState.ProposedPromotion"/>), or that none is asked (null).</summary>
    public void RecordProposedPromotion(GenerationMark? proposal)
    {
        lock (_stateWrites)
        {
            State = State with { ProposedPromotion = proposal };
            _states.Save(State);
        }
    }

    /// <summary>
    /// Records durably that the image holds <paramref name="generations"/> as it is: a blank node whose
    /// image the operator vouched equal to the primary's (--skip-initial-sync).
    /// </summary>
    public void TakeGenerations(DataGenerations generations)
    {
        ArgumentNullException.ThrowIfNull(generations);
        lock (_stateWrites)
        {
            State = State with { Generations = generations, SyncTarget = null, SyncFirstEpoch = 0 };
            _states.Save(State);
        }
    }

    /// <summary>
    /// Records that this node took over: a new data generation — <paramref name="into"/>, the one a
    /// witness voted for, or one drawn <paramref name="now"/> — so the old primary, which does not
    /// hold it, never replicates over it (I6); and the primary role. When the image does not yet hold
    /// <paramref name="epoch"/>, the drain's progress is recorded from here on in its own record
    /// (<see cref="Drain"/>), written before the state record says the node took over.
    /// </summary>
    public void MarkPromoted(DateTimeOffset now, long epoch, GenerationMark? into = null)
    {
        lock (_stateWrites)
        {
            RecordPromotion(now, epoch, into);
        }
    }

    private void RecordPromotion(DateTimeOffset now, long epoch, GenerationMark? into)
    {
        if (epoch > State.AppliedEpoch)
        {
            // Committed epochs are still to be written back while the new primary serves: from here
            // their progress is recorded apart from the state record, which the new primary owns.
            Drain = new TakeoverDrain { Epoch = epoch, AppliedEpoch = State.AppliedEpoch, AppliedLastSequence = State.AppliedLastSequence, MidResync = State.MidResync, CpuState = State.CpuState };
            _drains.Save(Drain);
        }

        // The checkpoint taken over may complete a sync its drain has not yet written back: the
        // image holds the primary's generations at it all the same (a mid-resync one is never taken over).
        NodeState taken = CompletingSync(State, epoch, midResync: false);
        TakeoverPoint? from = taken.Generations.Current is { } held ? new TakeoverPoint(epoch, held.Id) : null;
        State = taken with
        {
            Generations = taken.Generations.Begin(into ?? GenerationMark.Draw(GenerationCause.Promotion, now)),
            Role = NodeRole.Primary,
            PrimaryByPromotion = true,
            PromotedFrom = from,
            ProposedPromotion = null,
            SyncTarget = null,
            SyncFirstEpoch = 0,
        };
        _states.Save(State);
    }

    /// <summary>The VM state the RAM image and state record hold: the checkpoint failover resumes from.</summary>
    public VmState LoadVmState()
    {
        var state = new VmState(Ram.Size, PageSize);
        var pages = new VmPage[Ram.Size / PageSize];
        for (long i = 0; i < pages.Length; i++)
        {
            byte[] data = new byte[PageSize];
            Ram.Read(i * PageSize, data);
            pages[i] = new VmPage(i, data);
        }

        if (AppliedEpoch > 0)
        {
            state.Apply(new VmSnapshot(AppliedEpoch, AppliedCpuState, pages));
        }

        return state;
    }

    /// <summary>
    /// The VM state of a takeover while its drain may still write the RAM image: the applied
    /// checkpoint and its vCPU state read first (one record, one read), then the RAM image, then
    /// every committed snapshot newer than that checkpoint laid over it in order. A page the drain
    /// wrote meanwhile belongs to one of those snapshots, so it is overwritten by its own or a later
    /// one: whatever the drain did during the read, the result is the checkpoint taken over.
    /// </summary>
    /// <param name="committed">The takeover's committed snapshots, oldest first.</param>
    /// <param name="into">An array of the RAM's size to read it into (its first touch already paid), or null for a new one.</param>
    public VmState LoadVmState(IReadOnlyList<VmSnapshot> committed, byte[]? into = null)
    {
        ArgumentNullException.ThrowIfNull(committed);
        TakeoverDrain? drain = Drain;
        NodeState state = State;
        long applied = drain?.AppliedEpoch ?? state.AppliedEpoch;
        byte[] cpu = drain?.CpuState ?? state.CpuState;
        // Before the first applied checkpoint the RAM image is the zeroed one VmState starts as.
        VmState vm = new(Ram.Size, PageSize);
        if (applied > 0)
        {
            // Straight into the state's own array, a megabyte per read: this is on the failover's path.
            byte[] ram = into is { } given && given.Length == Ram.Size ? given : GC.AllocateUninitializedArray<byte>(checked((int)Ram.Size));
            for (int offset = 0; offset < ram.Length; offset += 1 << 20)
            {
                Ram.Read(offset, ram.AsSpan(offset, Math.Min(1 << 20, ram.Length - offset)));
            }

            vm = VmState.FromImage(applied, cpu, ram, PageSize);
        }

        foreach (VmSnapshot snapshot in committed)
        {
            if (snapshot.Epoch > vm.Epoch)
            {
                vm.Apply(snapshot);
            }
        }

        return vm;
    }

    public void Dispose()
    {
        Image.Dispose();
        Ram.Dispose();
        Journal.Dispose();
    }
}
