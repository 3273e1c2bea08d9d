using Replicator.Hosts.Storage;
using Replicator.InMemory;

namespace Replicator.Sim.Nodes;

/// <summary>
/// Damage to what the secondary keeps — a byte flipped on the medium inside a committed journal
/// entry or in the state record — followed by a restart. The node must refuse to start, naming the
/// file (and for the journal the damaged entry), or recover all it had made durable; never take
/// damage for a torn append and come back with less, never act on a record it cannot verify.
/// </summary>
internal sealed partial class SecondaryShell
{
    // What the next refusal to start must name, after damage was done; null when none was.
    private string[]? _damage;

    /// <summary>
    /// Damages a committed journal entry with another after it (a damaged last entry cannot be told
    /// from a torn append, and is not drawn), then restarts after <paramref name="restartAfter"/>.
    /// </summary>
    public void DamageJournal(long restartAfter) => DamageJournal(restartAfter, beforeNewest: false);

    /// <summary>
    /// As <see cref="DamageJournal(long)"/>, once the first epoch of a resync is journalled, to the
    /// entry before it: the epochs jump there, so recovery's own check that each epoch follows the
    /// last cannot see what the damage took. The hardest case for telling damage from a torn append.
    /// </summary>
    public void DamageJournalAtNextResyncStart(long restartAfter) => _damageAtResyncStart = restartAfter;

    /// <summary>Damages the state record (one wrong digit is enough to misstate the checkpoint the image holds), then restarts.</summary>
    public void DamageStateRecord(long restartAfter)
    {
        if (Down || IsPromoted || StateDirectory.Peek(NodeStateStore.FileName) is not { Size: > 0 } file)
        {
            return;
        }

        Random random = _world.Random.Faults;
        long at = random.NextInt64(file.Size);
        Flip(file, at, random);
        _damage = [NodeStateStore.FileName];
        _world.Trace.Event("state record damaged", at);
        FailStop($"restarted after damage to {NodeStateStore.FileName}", restartAfter);
    }

    private void DamageJournal(long restartAfter, bool beforeNewest)
    {
        if (Down || IsPromoted || Host.Store is not { } store)
        {
            return;
        }

        JournalEntryLocation[] held = store.Journal.EntriesHeld();
        if (held.Length < 2)
        {
            return;
        }

        Random random = _world.Random.Faults;
        JournalEntryLocation target = held[beforeNewest ? held.Length - 2 : random.Next(held.Length - 1)];
        long epoch = target.Epoch;
        long at = target.Offset + random.NextInt64(target.Length);
        Flip(StateDirectory.Peek(target.File)!, at, random);

        // An operator must learn which file and which entry: a symptom further on (an epoch that
        // does not follow) sends them looking in the wrong place.
        _damage = [target.File, $"byte {target.Offset}"];
        _world.Trace.Event("journal damaged", epoch, at);
        FailStop($"restarted after damage to journal entry {epoch}", restartAfter);
    }

    /// <summary>One bit of the medium flipped, durably, past any cache.</summary>
    private static void Flip(MemoryDisk file, long at, Random random)
    {
        byte[] damaged = [(byte)(file.Contents[(int)at] ^ (1 << random.Next(8)))];
        file.Write(at, damaged, fua: true);
    }

    /// <summary>
    /// The host refused its storage. Right after damage that is what it must do, naming what was
    /// damaged; otherwise the storage code mistook a legal crash state for damage, or an epoch that
    /// is not whole was committed.
    /// </summary>
    private void CheckRefusal(InvalidDataException refusal)
    {
        if (_damage is null)
        {
            _world.Checker.Fail($"I3/I4: the secondary's recovery refused its storage: {refusal.Message}");
        }
        else if (!_damage.All(name => refusal.Message.Contains(name, StringComparison.Ordinal)))
        {
            _world.Checker.Fail($"the secondary refused its damaged storage without naming {string.Join(" and ", _damage)}: {refusal.Message}");
        }
    }
}
