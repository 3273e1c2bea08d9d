namespace Replicator.Nbd.Protocol;

/// <summary>One extent of a block-status answer: <paramref name="Length"/> bytes in one <paramref name="State"/>.</summary>
public readonly record struct NbdExtent(long Length, NbdExtentState State);
