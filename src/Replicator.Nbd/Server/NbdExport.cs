using System.Text;
using Replicator.Core.Blocks;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Server;

/// <summary>What the handshake tells a client about the one export, computed once per server.</summary>
internal sealed class NbdExport
{
    /// <summary>The protocol's limit on a string's length (names, descriptions).</summary>
    public const int MaxStringBytes = 4096;

    /// <summary>The smallest addressable unit: a sector. Advertising it stops clients sending byte-granular requests.</summary>
    public const int MinimumBlockSize = BlockGeometry.SectorSize;

    public const int PreferredBlockSize = 4096;

    public NbdExport(INbdBackend backend, NbdServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        Name = options.ExportName ?? throw new ArgumentException("the export name may be empty but not null", nameof(options));
        NameBytes = Encoding.UTF8.GetBytes(Name);
        DescriptionBytes = options.Description is null ? null : Encoding.UTF8.GetBytes(options.Description);
        if (NameBytes.Length > MaxStringBytes || DescriptionBytes?.Length > MaxStringBytes)
        {
            throw new ArgumentException($"export name and description are limited to {MaxStringBytes} bytes", nameof(options));
        }

        if (backend.Size < 0 || backend.Size % MinimumBlockSize != 0)
        {
            throw new ArgumentException($"backend size {backend.Size} is not a multiple of {MinimumBlockSize}", nameof(backend));
        }

        // The maximum must reach the preferred size, and the read reply (header + data) must fit one array.
        if (backend.MaxRequestBytes < PreferredBlockSize || backend.MaxRequestBytes % MinimumBlockSize != 0 || backend.MaxRequestBytes > 1 << 30)
        {
            throw new ArgumentException($"backend's largest request {backend.MaxRequestBytes} must be a multiple of {MinimumBlockSize} in {PreferredBlockSize}..{1 << 30}", nameof(backend));
        }

        Size = backend.Size;
        MaximumBlockSize = backend.MaxRequestBytes;
        ReadOnly = options.ReadOnly || backend.IsReadOnly;

        // No CAN_MULTI_CONN: a backend's flush is promised to cover the writes of its own connection
        // only (see docs/nbd.md). No ROTATIONAL, DF or FAST_ZERO either.
        Flags = ReadOnly
            ? NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.ReadOnly | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            : NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
                | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes;
    }

    public string Name { get; }

    public byte[] NameBytes { get; }

    public byte[]? DescriptionBytes { get; }

    public long Size { get; }

    public int MaximumBlockSize { get; }

    public bool ReadOnly { get; }

    public NbdTransmissionFlags Flags { get; }

    /// <summary>True for this export's name and for the empty name, which selects the default export.</summary>
    public bool IsNamed(ReadOnlySpan<byte> requestedName) =>
        requestedName.IsEmpty || requestedName.SequenceEqual(NameBytes);
}
