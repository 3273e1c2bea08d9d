using System.Net;
using System.Net.Sockets;
using Replicator.Runtime.Links;

namespace Replicator.EndToEnd.Tests;

/// <summary>What strangers' connections may cost a secondary: a stated bound, whatever their number.</summary>
public class ResourceBoundsTests
{
    /// <summary>The bound docs/operations.md states for connections that never prove the key (measured: about 2 MiB with the cap, 35 MiB without it).</summary>
    private const long SilentConnectionsBound = 16L << 20;

    [Fact]
    public async Task Two_thousand_silent_connections_leave_the_secondary_s_memory_within_its_bound_and_the_pair_protected()
    {
        await using DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x51 0 4M");
        await pair.CheckpointAsync();
        long before = pair.Secondary!.ResidentBytes;

        for (int round = 0; round < 3; round++)
        {
            var silent = new List<Socket>();
            try
            {
                for (int i = 0; i < 2000; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    silent.Add(socket);
                    await socket.ConnectAsync(IPAddress.Loopback, pair.SecondaryPort);
                }
            }
            finally
            {
                silent.ForEach(s => s.Dispose());
            }

            await AcceptLoopHasReachedTheEndAsync(pair);
        }

        long grown = pair.Secondary.ResidentBytes - before;
        Assert.True(grown < SilentConnectionsBound, $"the secondary grew by {grown >> 20} MiB for silent connections");
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x52 4M 4M");
        Assert.True(await pair.CheckpointAsync() > 0);
        Assert.Contains("are already proving the pair key", pair.Secondary.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Connections are accepted in the order they arrived: once one made after the silent ones
    /// proves the key, the secondary has taken (and refused or timed out) all of them.
    /// </summary>
    private static async Task AcceptLoopHasReachedTheEndAsync(DaemonPair pair)
    {
        using LinkKey key = LinkKey.Load(pair.LinkKey);
        for (int attempt = 0; ; attempt++)
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, pair.SecondaryPort);
            try
            {
                await using Stream proven = await LinkTransport.ConnectAsync(socket, key, TimeSpan.FromSeconds(30), TimeProvider.System, CancellationToken.None);
                return;
            }
            catch (LinkAuthenticationException) when (attempt < 100_000)
            {
                // Refused for want of a pending place while the closed silent ones are still
                // being taken off the backlog: again (each attempt is a real connection).
            }
        }
    }
}
