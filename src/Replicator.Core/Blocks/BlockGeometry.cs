namespace Replicator.Core.Blocks;

/// <summary>The size and granularity of a protected disk, and the check every request passes.</summary>
public sealed record BlockGeometry
{
    /// <summary>The unit of tearing and of alignment: a power cut keeps or loses whole sectors.</summary>
    public const int SectorSize = 512;

    public BlockGeometry(long diskBytes, int maxRequestBytes)
    {
        if (diskBytes <= 0 || diskBytes % SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(diskBytes), diskBytes, $"disk size must be a positive multiple of {SectorSize}");
        }

        if (maxRequestBytes <= 0 || maxRequestBytes % SectorSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(maxRequestBytes), maxRequestBytes, $"largest request must be a positive multiple of {SectorSize}");
        }

        DiskBytes = diskBytes;
        MaxRequestBytes = maxRequestBytes;
    }

    public long DiskBytes { get; }

    public int MaxRequestBytes { get; }

    /// <summary>Returns null when the request is well formed for this disk, else why it is not.</summary>
    public string? Validate(in BlockRequest request, int payloadLength)
    {
        switch (request.Op)
        {
            case BlockOp.Flush:
                return request.Offset == 0 && request.Length == 0 && payloadLength == 0 && !request.Fua
                    ? null
                    : "a flush carries no range, payload or FUA flag";
            case BlockOp.Skipped:
                return "a skipped sequence number is not a guest request";
            case BlockOp.Verify:
                return "a verify record is not a guest request";
            case BlockOp.Write or BlockOp.WriteZeroes or BlockOp.Trim:
                return ValidateRange(request, payloadLength);
            default:
                return $"unknown operation {(byte)request.Op}";
        }
    }

    /// <summary>
    /// Why a mirrored record cannot be taken, or null: a guest request's rules, plus the records
    /// only the primary makes — a skipped sequence number (no payload) and a verify record.
    /// </summary>
    public string? ValidateRecord(in BlockRequest request, int payloadLength) => request.Op switch
    {
        BlockOp.Skipped => payloadLength == 0 ? null : "a skipped sequence number carries a payload",
        BlockOp.Verify when request.Fua => "a verify record carries no FUA flag",
        BlockOp.Verify => ValidateRange(request, payloadLength),
        _ => Validate(request, payloadLength),
    };

    private string? ValidateRange(in BlockRequest request, int payloadLength)
    {

        if (request.Length <= 0 || request.Length > MaxRequestBytes)
        {
            return $"length {request.Length} is outside 1..{MaxRequestBytes}";
        }

        if (request.Offset < 0 || request.Offset % SectorSize != 0 || request.Length % SectorSize != 0)
        {
            return $"range {request.Offset}+{request.Length} is not aligned to {SectorSize}-byte sectors";
        }

        // Offset + Length could wrap past long.MaxValue for an offset off the wire: compare without adding.
        if (request.Offset > DiskBytes - request.Length)
        {
            return $"range {request.Offset}+{request.Length} ends beyond the disk ({DiskBytes} bytes)";
        }

        if (request.Op == BlockOp.Trim && request.Fua)
        {
            return "a trim carries no FUA flag";
        }

        return payloadLength == request.PayloadLength
            ? null
            : $"payload is {payloadLength} bytes, the request needs {request.PayloadLength}";
    }
}
