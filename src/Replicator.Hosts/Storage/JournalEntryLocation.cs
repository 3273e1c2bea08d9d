namespace Replicator.Hosts.Storage;

/// <summary>Where one journal entry not yet released lies: which of the journal's files, and the bytes it takes there.</summary>
public readonly record struct JournalEntryLocation(long Epoch, string File, long Offset, int Length);
