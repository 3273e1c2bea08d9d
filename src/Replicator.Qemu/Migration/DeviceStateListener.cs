using System.Buffers;
using System.Net.Sockets;

namespace Replicator.Qemu.Migration;

/// <summary>
/// Where QEMU sends a checkpoint's device state: a Unix socket the adapter listens on, given to
/// QEMU as <c>migrate uri=unix:PATH</c>. QEMU 7.2 has no <c>file:</c> migration URI (it came in
/// 8.2), and <c>exec:cat &gt; FILE</c> forks a shell and a cat in every pause; a socket costs
/// neither and leaves the state in memory, where the checkpoint wants it.
/// </summary>
internal sealed class DeviceStateListener : IDisposable
{
    private readonly Socket _listener;

    public DeviceStateListener(string path, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        Path = path;
        MaxBytes = maxBytes;
        File.Delete(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen(1);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    public string Path { get; }

    public int MaxBytes { get; }

    public string Uri => "unix:" + Path;

    /// <summary>Accepts QEMU's connection and reads the whole stream, until QEMU closes it.</summary>
    public async Task<byte[]> ReceiveAsync(CancellationToken cancellationToken)
    {
        using Socket connection = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(512 << 10);
        int length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (buffer.Length >= MaxBytes)
                    {
                        throw new MigrationFailedException(MigrationStatus.Other, $"the device state exceeds {MaxBytes} bytes");
                    }

                    byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, MaxBytes));
                    buffer.AsSpan(0, length).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                int read = await connection.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return buffer.AsSpan(0, length).ToArray();
                }

                length += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        File.Delete(Path);
    }
}
