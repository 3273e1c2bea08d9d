namespace Replicator.Nbd.Server;

/// <summary>What one client negotiated in its handshake, which shapes the replies it gets in transmission.</summary>
/// <param name="StructuredReplies">NBD_OPT_STRUCTURED_REPLY was acked: reads (and errors) are answered in chunks.</param>
/// <param name="AllocationContext">NBD_OPT_SET_META_CONTEXT selected <c>base:allocation</c>: NBD_CMD_BLOCK_STATUS is allowed.</param>
internal readonly record struct NegotiatedFeatures(bool StructuredReplies, bool AllocationContext)
{
    /// <summary>The id this server gives the <c>base:allocation</c> context when a client selects it.</summary>
    public const uint AllocationContextId = 1;

    public const string AllocationContextName = "base:allocation";
}
