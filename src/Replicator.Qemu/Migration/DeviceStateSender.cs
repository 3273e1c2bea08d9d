using System.Net.Sockets;

namespace Replicator.Qemu.Migration;

/// <summary>Feeds a checkpoint's device state to a QEMU listening after <c>migrate-incoming uri=unix:PATH</c>.</summary>
internal static class DeviceStateSender
{
    public static async Task SendAsync(string path, ReadOnlyMemory<byte> state, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        while (!state.IsEmpty)
        {
            int sent = await socket.SendAsync(state, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            state = state[sent..];
        }

        // End of stream: QEMU loads the state as it reads, and the end tells it nothing more comes.
        socket.Shutdown(SocketShutdown.Send);
    }
}
