using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Replicator.Cli.Commands;

/// <summary>
/// Another <c>replicator</c> process (a daemon, or an internal command such as <c>demo-primary</c>)
/// started by <c>demo</c> or <c>bench</c>: its lines are watched for readiness and for what an
/// operator should see.
/// </summary>
internal static class ChildProcess
{
    /// <summary>
    /// Starts <c>replicator ARGUMENTS</c>; the task completes when it prints <paramref name="ready"/>,
    /// and fails if it exits first. Every line also goes to <paramref name="onLine"/> if given.
    /// </summary>
    public static (Process Process, Task Ready) Start(TextWriter output, string ready, Action<string>? onLine, params string[] arguments)
    {
        var readySeen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        Process process = new() { StartInfo = start, EnableRaisingEvents = true };
        string role = arguments[0];
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            if (line.Contains(ready, StringComparison.Ordinal))
            {
                readySeen.TrySetResult();
            }

            onLine?.Invoke(line);
            Echo(output, role, line);
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => readySeen.TrySetException(new InvalidOperationException($"replicator {role} exited before it was ready"));
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return (process, readySeen.Task);
    }

    /// <summary>Kills the process (and anything it started) if it still runs, and waits for it.</summary>
    public static void Stop(Process process)
    {
        ArgumentNullException.ThrowIfNull(process);
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
    }

    /// <summary>A port on 127.0.0.1 that was free a moment ago.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void Echo(TextWriter output, string role, string line)
    {
        // Only what an operator should see: warnings and worse from the daemons.
        if (line.Contains(" warn:", StringComparison.Ordinal) || line.Contains(" fail:", StringComparison.Ordinal) || line.Contains(" crit:", StringComparison.Ordinal) || line.StartsWith("replicator", StringComparison.Ordinal) || line.StartsWith("Unhandled", StringComparison.Ordinal))
        {
            lock (output)
            {
                output.WriteLine($"  [{role}] {line}");
            }
        }
    }
}
