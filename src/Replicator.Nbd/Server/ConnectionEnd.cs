namespace Replicator.Nbd.Server;

/// <summary>What a connection does with the requests it already received when its receive loop ends.</summary>
internal enum ConnectionEnd
{
    /// <summary>
    /// The client is still there (it sent NBD_CMD_DISC or broke the protocol) or the server is
    /// stopping: every request received runs and replies before the socket closes.
    /// </summary>
    FinishRequests,

    /// <summary>
    /// The client is gone (end of stream, reset, any socket error) or the connection was aborted: no
    /// reply can reach anyone, so the socket closes at once and the connection is forgotten. Requests
    /// still in the backend are canceled and give back their buffers and budget when they return.
    /// </summary>
    DropRequests,
}
