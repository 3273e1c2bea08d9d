using Replicator.Core.Blocks;

namespace Replicator.Core.Storage;

/// <summary>Guest block requests on a device: the one place a request's meaning (zeroes, trim, FUA) meets bytes.</summary>
public static class BlockDeviceRequests
{
    private static readonly byte[] Zeroes = new byte[64 * 1024];

    /// <summary>Applies one request (write, write-zeroes, trim as zeroes, flush); a FUA write is durable on return.</summary>
    public static void Apply(this IBlockDevice device, in BlockRequest request, ReadOnlySpan<byte> payload)
    {
        ArgumentNullException.ThrowIfNull(device);
        switch (request.Op)
        {
            case BlockOp.Write:
                device.Write(request.Offset, payload);
                break;
            case BlockOp.WriteZeroes or BlockOp.Trim:
                device.WriteZeroes(request.Offset, request.Length);
                break;
            case BlockOp.Flush:
                device.Flush();
                return;
            default:
                return;
        }

        if (request.Fua)
        {
            device.Flush();
        }
    }

    /// <summary>Writes <paramref name="length"/> zero bytes from <paramref name="offset"/>.</summary>
    public static void WriteZeroes(this IBlockDevice device, long offset, int length)
    {
        ArgumentNullException.ThrowIfNull(device);
        while (length > 0)
        {
            int chunk = Math.Min(length, Zeroes.Length);
            device.Write(offset, Zeroes.AsSpan(0, chunk));
            offset += chunk;
            length -= chunk;
        }
    }
}
