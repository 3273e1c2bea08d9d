namespace Replicator.Nbd.Protocol;

/// <summary>The magic numbers that start each NBD message; all are sent big-endian.</summary>
internal static class NbdMagic
{
    /// <summary>"NBDMAGIC": the first eight bytes a server sends.</summary>
    public const ulong InitPassword = 0x4e42444d41474943;

    /// <summary>"IHAVEOPT": follows the init password, and starts every option the client sends.</summary>
    public const ulong Option = 0x49484156454f5054;

    public const ulong OptionReply = 0x0003e889045565a9;

    public const uint Request = 0x25609513;

    public const uint SimpleReply = 0x67446698;

    /// <summary>Starts every chunk of a structured reply.</summary>
    public const uint StructuredReply = 0x668e33ef;
}
