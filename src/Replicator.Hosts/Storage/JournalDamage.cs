namespace Replicator.Hosts.Storage;

/// <summary>
/// What the journal could not verify: the entry at <see cref="Offset"/> cannot be read, yet a whole
/// entry of epoch <see cref="NextEpoch"/> follows it, so the epochs after
/// <see cref="LastVerifiableEpoch"/> may have been committed and acknowledged and cannot be recovered.
/// </summary>
/// <param name="Journal">The file the damage is in.</param>
/// <param name="Offset">Where in it the entry that cannot be read begins.</param>
/// <param name="Why">What is wrong with it.</param>
/// <param name="NextEpoch">The epoch of the whole entry that follows.</param>
/// <param name="NextOffset">Where that entry begins.</param>
/// <param name="LastVerifiableEpoch">The last epoch the node can still vouch for.</param>
/// <param name="NextJournal">The journal's other file, when the entry that follows lies there; null when in the same file.</param>
public sealed record JournalDamage(string Journal, long Offset, string Why, long NextEpoch, long NextOffset, long LastVerifiableEpoch, string? NextJournal = null)
{
    public override string ToString() =>
        $"journal {Journal} is damaged: the entry at byte {Offset} cannot be read ({Why}), yet a whole entry of epoch {NextEpoch} follows at byte {NextOffset}{(NextJournal is null ? string.Empty : $" of {NextJournal}")}; " +
        $"epochs after {LastVerifiableEpoch} and before {NextEpoch} may have been acknowledged and cannot be recovered";
}
