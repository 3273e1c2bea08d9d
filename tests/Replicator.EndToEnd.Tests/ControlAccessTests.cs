using System.Runtime.Versioning;
using System.Text.Json.Nodes;
using Replicator.Runtime.Control;

namespace Replicator.EndToEnd.Tests;

/// <summary>The control socket as another local user meets it: closed by its mode, and by its owner check if the mode was opened by hand.</summary>
[UnsupportedOSPlatform("windows")]
public class ControlAccessTests
{
    private const string Nobody = "65534";

    /// <summary>A control client in Python, run as user nobody: sends one command, prints the answer or the error.</summary>
    private const string Client = """
        import socket, sys
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(sys.argv[1])
            s.sendall(b'{"command":"failover"}\n')
            print(s.makefile().readline())
        except OSError as e:
            print("refused by the system:", e)
        """;

    [Fact]
    public async Task Another_user_cannot_fail_over_the_secondary_even_under_umask_0000()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);

        // The careless setup of the report: every directory on the way open to all, umask 0000.
        File.SetUnixFileMode(Path.GetDirectoryName(pair.SecondaryState)!, (UnixFileMode)0b111_111_111);
        Directory.CreateDirectory(pair.SecondaryState);
        File.SetUnixFileMode(pair.SecondaryState, (UnixFileMode)0b111_111_111);
        pair.StartSecondaryUnderUmask("0000");
        await pair.Secondary!.WaitForOutputAsync("taking commands on");
        string socketPath = ControlServer.PathIn(pair.SecondaryState);
        Assert.All(Directory.GetFiles(pair.SecondaryState), file => Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file)));
        Assert.Contains(socketPath, Directory.GetFiles(pair.SecondaryState));
        Assert.Contains(Path.Combine(pair.SecondaryState, "state.json"), Directory.GetFiles(pair.SecondaryState));

        string answer = await AsNobodyAsync(socketPath);
        Assert.Contains("refused by the system", answer, StringComparison.Ordinal);

        // Opened by hand: the daemon still checks who is asking.
        File.SetUnixFileMode(socketPath, (UnixFileMode)0b110_110_110);
        answer = await AsNobodyAsync(socketPath);
        Assert.Contains($"permission denied: uid {Nobody}", answer, StringComparison.Ordinal);

        JsonNode status = await DaemonPair.StatusAsync(pair.SecondaryState);
        Assert.Equal("secondary", status["role"]?.GetValue<string>());
    }

    private static async Task<string> AsNobodyAsync(string socketPath)
    {
        (int code, string output) = await Tool.RunAsync("setpriv", $"--reuid={Nobody}", $"--regid={Nobody}", "--clear-groups", "/usr/bin/python3", "-c", Client, socketPath);
        Assert.True(code == 0, $"the client as nobody failed ({code}): {output}");
        return output;
    }
}
