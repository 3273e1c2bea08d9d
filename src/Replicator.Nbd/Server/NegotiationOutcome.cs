namespace Replicator.Nbd.Server;

/// <summary>How the handshake phase of a connection ended, when the client did not break the protocol.</summary>
internal enum NegotiationOutcome
{
    /// <summary>NBD_OPT_GO or NBD_OPT_EXPORT_NAME selected the export: transmission starts.</summary>
    Transmission,

    /// <summary>The client sent NBD_OPT_ABORT (nbdinfo --list does): close.</summary>
    Aborted,

    /// <summary>The client did not finish within <see cref="NbdServerOptions.NegotiationTimeout"/>: close.</summary>
    TimedOut,
}
