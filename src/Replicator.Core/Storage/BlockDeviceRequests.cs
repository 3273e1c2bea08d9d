using Replicator.Core.Blocks;

namespace Replicator.Core.Storage;

/// <summary>Guest block requests on a device: the one place a request's meaning (zeroes, trim, FUA) meets bytes.</summary>
public static class BlockDeviceRequests
{
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
}
