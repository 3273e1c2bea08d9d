namespace Replicator.Nbd.Protocol;

/// <summary>Information items a client may ask for with NBD_OPT_INFO and NBD_OPT_GO.</summary>
public enum NbdInfoType : ushort
{
    Export = 0,
    Name = 1,
    Description = 2,
    BlockSize = 3,
}
