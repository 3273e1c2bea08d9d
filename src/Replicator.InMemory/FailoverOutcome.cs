using Replicator.Core.Vm;

namespace Replicator.InMemory;

/// <summary>What the promoted secondary holds after failover: one checkpoint's image and VM state.</summary>
public sealed record FailoverOutcome(long Epoch, byte[] Image, VmState VmState, long PrimaryLastAcknowledged, long PrimaryLastStarted);
