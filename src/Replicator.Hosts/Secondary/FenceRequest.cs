namespace Replicator.Hosts.Secondary;

/// <summary>
/// What the operator's fence command is run with before a promotion (like DRBD's fence-peer
/// handler): the old primary's identity, so the command can cut its power or its storage.
/// </summary>
/// <param name="Command">The command line, run by the shell with <c>/bin/sh -c</c>.</param>
/// <param name="PairId">The pair (REPLICATOR_PAIR_ID).</param>
/// <param name="Peer">The old primary's address as last seen (REPLICATOR_PEER).</param>
/// <param name="Generation">The generation the old primary held, in hex (REPLICATOR_GENERATION).</param>
/// <param name="Timeout">The command is killed, and counts as failed, after this.</param>
public sealed record FenceRequest(string Command, string PairId, string Peer, string Generation, TimeSpan Timeout);
