using System.Buffers.Binary;
using System.IO.Hashing;

namespace Replicator.Core.Vm;

/// <summary>
/// The VM state changes of one checkpoint: the vCPU state whole, and the RAM pages dirtied since
/// the previous checkpoint (every page at the first one). Applied in epoch order they rebuild the
/// guest's RAM exactly.
/// </summary>
public sealed record VmSnapshot(long Epoch, byte[] CpuState, IReadOnlyList<VmPage> Pages)
{
    public long ByteCount
    {
        get
        {
            long total = CpuState.Length;
            foreach (VmPage page in Pages)
            {
                total += page.Data.Length;
            }

            return total;
        }
    }

    /// <summary>A hash of the whole snapshot, carried with the checkpoint and checked before commit.</summary>
    public ulong ComputeDigest()
    {
        var hash = new XxHash3(Epoch);
        Span<byte> index = stackalloc byte[8];
        hash.Append(CpuState);
        foreach (VmPage page in Pages)
        {
            BinaryPrimitives.WriteInt64LittleEndian(index, page.Index);
            hash.Append(index);
            hash.Append(page.Data.Span);
        }

        return hash.GetCurrentHashAsUInt64();
    }
}
