namespace Replicator.Core.Vm;

/// <summary>One guest RAM page in a snapshot: its index and its contents at the checkpoint.</summary>
public sealed record VmPage(long Index, byte[] Data);
