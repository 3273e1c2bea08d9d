namespace Replicator.Hosts.Storage;

/// <summary>
/// What the journal could not verify: the entry at <see cref="Offset"/> cannot be read, yet a whole
/// entry of epoch <see cref="NextEpoch"/> follows it, so the epochs after
/// <see cref="LastVerifiableEpoch"/> may have been committed and acknowledged and cannot be recovered.
/// </summary>
public sealed record JournalDamage(string Journal, long Offset, string Why, long NextEpoch, long NextOffset, long LastVerifiableEpoch)
{
    public override string ToString() =>
        $"journal {Journal} is damaged: the entry at byte {Offset} cannot be read ({Why}), yet a whole entry of epoch {NextEpoch} follows at byte {NextOffset}; " +
        $"epochs after {LastVerifiableEpoch} and before {NextEpoch} may have been acknowledged and cannot be recovered";
}
