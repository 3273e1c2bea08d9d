namespace Replicator.Qemu.Ram;

/// <summary>The widest compare a page diff uses; <see cref="PageCompare.Best"/> is the widest this CPU accelerates.</summary>
public enum VectorWidth
{
    Scalar,
    Vector128,
    Vector256,
    Vector512,
}
