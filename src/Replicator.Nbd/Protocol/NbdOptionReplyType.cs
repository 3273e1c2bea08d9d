namespace Replicator.Nbd.Protocol;

/// <summary>Reply types of the fixed newstyle handshake; errors have bit 31 set.</summary>
public enum NbdOptionReplyType : uint
{
    Ack = 1,
    Server = 2,
    Info = 3,
    MetaContext = 4,
    ErrorUnsupported = 0x8000_0001,
    ErrorPolicy = 0x8000_0002,
    ErrorInvalid = 0x8000_0003,
    ErrorUnknown = 0x8000_0006,
    ErrorShutdown = 0x8000_0007,
    ErrorTooBig = 0x8000_0009,
}
