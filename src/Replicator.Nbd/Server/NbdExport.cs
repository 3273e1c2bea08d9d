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
        if (backend.MaxRequestBytes < PreferredBlockSize || backend.MaxRequestBytes % MinimumBlockSize != 0 || backend.MaxRequestBytes > NbdServerOptions.MaxPayloadLimit)
        {
            throw new ArgumentException($"backend's largest request {backend.MaxRequestBytes} must be a multiple of {MinimumBlockSize} in {PreferredBlockSize}..{NbdServerOptions.MaxPayloadLimit}", nameof(backend));
        }

        if (options.MaxPayloadBytes < PreferredBlockSize || options.MaxPayloadBytes % MinimumBlockSize != 0 || options.MaxPayloadBytes > NbdServerOptions.MaxPayloadLimit)
        {
            throw new ArgumentException($"maximum payload {options.MaxPayloadBytes} must be a multiple of {MinimumBlockSize} in {PreferredBlockSize}..{NbdServerOptions.MaxPayloadLimit}", nameof(options));
        }

        Size = backend.Size;
        MaximumBlockSize = options.MaxPayloadBytes;
        BackendRequestBytes = backend.MaxRequestBytes;
        ReadOnly = options.ReadOnly || backend.IsReadOnly;

        // CAN_MULTI_CONN rests on INbdBackend.FlushAsync covering every connection's completed writes
        // (see docs/nbd.md). DF is added per connection, once structured replies are negotiated.
        NbdTransmissionFlags always = NbdTransmissionFlags.HasFlags | NbdTransmissionFlags.SendFlush | NbdTransmissionFlags.SendFua
            | NbdTransmissionFlags.CanMultiConnection | NbdTransmissionFlags.SendCache;
        Flags = ReadOnly
            ? always | NbdTransmissionFlags.ReadOnly
            : always | NbdTransmissionFlags.SendTrim | NbdTransmissionFlags.SendWriteZeroes | NbdTransmissionFlags.SendFastZero;
    }

    public string Name { get; }

    public byte[] NameBytes { get; }

    public byte[]? DescriptionBytes { get; }

    public long Size { get; }

    /// <summary>The longest read or write a client may send (advertised); longer trims and write-zeroes are split.</summary>
    public int MaximumBlockSize { get; }

    /// <summary>The backend's largest call: requests longer than this are split into pieces of at most this.</summary>
    public int BackendRequestBytes { get; }

    public bool ReadOnly { get; }

    /// <summary>The flags every connection gets; see <see cref="FlagsFor"/>.</summary>
    public NbdTransmissionFlags Flags { get; }

    /// <summary>The flags sent to one client: DF only to a client that negotiated structured replies (the protocol forbids it otherwise).</summary>
    public NbdTransmissionFlags FlagsFor(bool structuredReplies) =>
        structuredReplies ? Flags | NbdTransmissionFlags.SendDontFragment : Flags;

    /// <summary>True for this export's name and for the empty name, which selects the default export.</summary>
    public bool IsNamed(ReadOnlySpan<byte> requestedName) =>
        requestedName.IsEmpty || requestedName.SequenceEqual(NameBytes);
}
