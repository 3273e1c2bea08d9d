namespace Replicator.Core.Vm;

/// <summary>
/// One guest RAM page in a snapshot: its index and its contents at the checkpoint. The contents
/// may be a slice of a larger buffer: a decoded checkpoint keeps its pages in arrays of 16.
/// </summary>
public sealed record VmPage(long Index, ReadOnlyMemory<byte> Data);
