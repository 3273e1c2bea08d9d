using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Replicator.EndToEnd.Tests;

/// <summary>One <c>replicator</c> daemon or command as a separate process, with its output kept for assertions.</summary>
internal sealed class ReplicatorProcess : IAsyncDisposable
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "replicator.dll");

    // Ports handed out by FreePort: 20 windows of 1,024 from 10,000, all below the ephemeral range.
    private const int FirstPort = 10_000;
    private const int PortWindow = 1_024;
    private const int PortWindows = 20;
    private static int s_portsHandedOut;

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly List<(string Text, int Times, TaskCompletionSource Seen)> _waits = new();

    private ReplicatorProcess(Process process) => _process = process;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    /// <summary>The process's resident memory now, from /proc (bytes).</summary>
    public long ResidentBytes
    {
        get
        {
            string line = File.ReadLines($"/proc/{_process.Id}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
    }

    public int ExitCode => _process.ExitCode;

    public static ReplicatorProcess Start(params string[] arguments) => Start(new ProcessStartInfo("dotnet"), arguments);

    /// <summary>As <see cref="Start(string[])"/>, under a given umask (a careless operator's 0000, say).</summary>
    public static ReplicatorProcess StartUnderUmask(string umask, params string[] arguments) => StartAfter($"umask {umask}", arguments);

    /// <summary>As <see cref="Start(string[])"/>, after a shell command that sets the process up (a umask, a ulimit).</summary>
    public static ReplicatorProcess StartAfter(string setup, params string[] arguments)
    {
        var shell = new ProcessStartInfo("/bin/sh");
        shell.ArgumentList.Add("-c");
        shell.ArgumentList.Add($"{setup} && exec dotnet \"$@\"");
        shell.ArgumentList.Add("sh");
        return Start(shell, arguments);
    }

    private static ReplicatorProcess Start(ProcessStartInfo start, string[] arguments)
    {
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.ArgumentList.Add(Dll);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = new ReplicatorProcess(new Process { StartInfo = start });
        process._process.OutputDataReceived += (_, e) => process.OnLine(e.Data);
        process._process.ErrorDataReceived += (_, e) => process.OnLine(e.Data);
        process._process.Start();
        process._process.BeginOutputReadLine();
        process._process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Runs a short command to its end with extra environment variables (settings from the environment).</summary>
    public static async Task<(int ExitCode, string Output)> RunWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet");
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        await using ReplicatorProcess process = Start(start, arguments);
        int code = await process.WaitForExitAsync();
        return (code, process.Output);
    }

    /// <summary>Runs a short command (checkpoint, failover, status) to its end.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(params string[] arguments)
    {
        await using ReplicatorProcess process = Start(arguments);
        int code = await process.WaitForExitAsync();
        return (code, process.Output);
    }

    /// <summary>Waits until the output contains <paramref name="text"/>; fails if the process exits first or after two minutes.</summary>
    public Task WaitForOutputAsync(string text) => WaitForOutputAsync(text, 1);

    /// <summary>
    /// Waits until the output contains <paramref name="text"/> <paramref name="times"/> times (an
    /// event that happens again, such as a second resync); fails if the process exits first or
    /// after two minutes.
    /// </summary>
    public async Task WaitForOutputAsync(string text, int times)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_output)
        {
            if (Occurrences(_output.ToString(), text) >= times)
            {
                return;
            }

            _waits.Add((text, times, seen));
        }

        Task exited = _process.WaitForExitAsync();
        Task first;
        try
        {
            first = await Task.WhenAny(seen.Task, exited).WaitAsync(TimeSpan.FromMinutes(2));
        }
        catch (TimeoutException)
        {
            // The output says what the process was doing instead.
            Assert.Fail($"the process did not print '{text}' {times} time(s) within 2 minutes:\n{Output}");
            throw;
        }

        if (first == exited)
        {
            // The exit can be seen before the last lines it printed were read: drain them, then look again.
            _process.WaitForExit();
        }

        Assert.True(seen.Task.IsCompleted || Occurrences(Output, text) >= times, $"the process exited before printing '{text}' {times} time(s):\n{Output}");
    }

    /// <summary>How many times the output holds <paramref name="text"/> so far.</summary>
    public int OutputOccurrences(string text) => Occurrences(Output, text);

    private static int Occurrences(string output, string text)
    {
        int count = 0;
        for (int at = output.IndexOf(text, StringComparison.Ordinal); at >= 0; at = output.IndexOf(text, at + text.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Completes when the process exits, however long that takes (a wait that has its own bound races it).</summary>
    public Task WhenExited() => _process.WaitForExitAsync();

    public async Task<int> WaitForExitAsync()
    {
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Asks the process to stop as an init system would (SIGTERM).</summary>
    public async Task TerminateAsync()
    {
        (int code, string output) = await Tool.RunAsync("kill", "-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(code == 0, output);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }

        _process.Dispose();
    }

    /// <summary>
    /// A port on 127.0.0.1 for a daemon to bind, free a moment ago and not among the last 1,024 this
    /// process handed out. Taken below the kernel's ephemeral range (32768–60999 by default), not from it:
    /// a port the kernel assigned to a listener and took back can go at once to any outgoing
    /// connection as its local port, and the daemon's bind then fails with "address already in
    /// use". Each test process counts through a window of its own, chosen by its process id.
    /// </summary>
    public static int FreePort()
    {
        for (int tried = 0; tried < PortWindow; tried++)
        {
            int offset = Interlocked.Increment(ref s_portsHandedOut) % PortWindow;
            int port = FirstPort + (Environment.ProcessId % PortWindows * PortWindow) + offset;
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Something else listens there: the next one.
            }
        }

        throw new InvalidOperationException($"no free port in this test process's window of {PortWindow} from {FirstPort}");
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            string all = _output.ToString();
            foreach ((string text, int times, TaskCompletionSource seen) in _waits.Where(w => Occurrences(all, w.Text) >= w.Times).ToList())
            {
                seen.TrySetResult();
                _waits.Remove((text, times, seen));
            }
        }
    }
}
