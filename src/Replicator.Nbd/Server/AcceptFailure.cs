namespace Replicator.Nbd.Server;

/// <summary>What the accept loop does after an accept failed.</summary>
internal enum AcceptFailure
{
    /// <summary>The server is stopping (the listener was closed): the loop ends. Nothing else ends it.</summary>
    Stopped,

    /// <summary>The client reset or gave up before it was accepted: accept the next at once.</summary>
    ClientGone,

    /// <summary>
    /// Anything else, out of descriptors (EMFILE, ENFILE) or memory first of all: log (rate-limited),
    /// wait <see cref="AcceptLoop.RetryDelay"/> so a failure that repeats does not spin, and accept again.
    /// </summary>
    BackOff,
}
