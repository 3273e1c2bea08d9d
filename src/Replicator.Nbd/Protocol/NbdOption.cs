namespace Replicator.Nbd.Protocol;

/// <summary>Option numbers of the handshake phase (those this server names; others are refused as unsupported).</summary>
public enum NbdOption : uint
{
    ExportName = 1,
    Abort = 2,
    List = 3,
    StartTls = 5,
    Info = 6,
    Go = 7,
    StructuredReply = 8,
    ListMetaContext = 9,
    SetMetaContext = 10,
}
