using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Replicator.EndToEnd.Tests;

/// <summary>A primary that runs out of file descriptors: its export stops accepting only while it must.</summary>
public class DescriptorLimitTests
{
    [Fact]
    public async Task The_primary_s_export_accepts_again_once_descriptors_are_free()
    {
        // The connection cap above what the descriptors allow, so the descriptors run out first.
        await using DaemonPair pair = await DaemonPair.StartAsync(false, [], ["--nbd-max-connections", "1000"]);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x71 0 64k");
        string pid = pair.Primary!.Id.ToString(CultureInfo.InvariantCulture);
        int inUse = Directory.GetFiles($"/proc/{pid}/fd").Length;
        string soft = File.ReadLines($"/proc/{pid}/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];

        // Only the soft limit: raising it again needs no privilege.
        (int code, string output) = await Tool.RunAsync("prlimit", "--pid", pid, $"--nofile={inUse + 8}:");
        Assert.True(code == 0, output);

        var held = new List<Socket>();
        try
        {
            // More clients than descriptors left: the kernel completes their connections, the
            // primary cannot accept them all.
            for (int i = 0; i < 40; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                held.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, pair.PrimaryNbd);
            }

            await pair.Primary.WaitForOutputAsync("NBD server could not accept a connection");
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }

        (code, output) = await Tool.RunAsync("prlimit", "--pid", pid, $"--nofile={soft}:");
        Assert.True(code == 0, output);
        await Tool.QemuIo(pair.PrimaryUri, "read -P 0x71 0 64k", "write -P 0x72 64k 64k");
        Assert.True(await pair.CheckpointAsync() > 0);
    }
}
