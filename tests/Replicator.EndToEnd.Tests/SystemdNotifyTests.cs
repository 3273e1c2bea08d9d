using System.Net.Sockets;
using System.Text;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// Under systemd (Type=notify, NOTIFY_SOCKET set) the daemons say READY=1 themselves once they
/// serve — the primary after its handshake, with its export open — and STOPPING=1 when told to stop.
/// </summary>
public sealed class SystemdNotifyTests
{
    [Fact]
    public async Task The_primary_says_ready_once_it_serves_and_stopping_when_terminated()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        using Socket notify = Listen(pair.FileInDirectory("notify.sock"));
        pair.StartSecondary();
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimaryAfter($"export NOTIFY_SOCKET={pair.FileInDirectory("notify.sock")}");

        Assert.Equal("READY=1", await ReceiveAsync(notify));

        // Said once the handshake is done: the export answers and the link is up at that moment.
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x21 0 64k");
        System.Text.Json.Nodes.JsonNode status = (await DaemonPair.StatusAsync(pair.PrimaryState))["status"]!;
        Assert.StartsWith("connected", status["Link"]!.GetValue<string>(), StringComparison.Ordinal);

        await pair.Primary!.TerminateAsync();
        Assert.Equal("STOPPING=1", await ReceiveAsync(notify));
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
    }

    [Fact]
    public async Task The_witness_says_ready_once_it_listens()
    {
        await using var pair = new DaemonPair();
        using Socket notify = Listen(pair.FileInDirectory("notify.sock"));
        ReplicatorProcess witness = ReplicatorProcess.StartAfter($"export NOTIFY_SOCKET={pair.FileInDirectory("notify.sock")}", "witness", "--listen", $"127.0.0.1:{pair.WitnessPort}", "--state-dir", pair.WitnessState, "--link-key", pair.LinkKey);
        await using (witness)
        {
            Assert.Equal("READY=1", await ReceiveAsync(notify));

            // Said once it listens: a connection is accepted at that moment.
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await probe.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, pair.WitnessPort));
            Assert.True(probe.Connected);
        }
    }

    private static Socket Listen(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        byte[] buffer = new byte[512];
        int length = await socket.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromMinutes(2));
        return Encoding.UTF8.GetString(buffer, 0, length).Trim();
    }
}
