using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Tests.Support;

/// <summary>One transmission reply: its error, handle and (for a successful read) data.</summary>
internal sealed record SimpleReply(NbdError Error, ulong Handle, byte[] Data);
