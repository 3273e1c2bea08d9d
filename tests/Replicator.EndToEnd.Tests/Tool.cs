using System.Diagnostics;

namespace Replicator.EndToEnd.Tests;

/// <summary>Runs an outside command (qemu-io, nbdsh) to completion, with a generous bound that fails the test instead of hanging it.</summary>
internal static class Tool
{
    public static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments)
    {
        string? path = Find(file) ?? throw new InvalidOperationException($"{file} is not installed: run scripts/install-test-deps.sh (the test command does)");
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // nbdsh is a Python program: the system's Python, which has the libnbd bindings, must come first.
        start.Environment["PATH"] = "/usr/bin:/bin:" + Environment.GetEnvironmentVariable("PATH");
        using Process process = Process.Start(start)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }

    public static async Task<string> QemuIo(string uri, params string[] commands)
    {
        var arguments = new List<string> { "-f", "raw" };
        foreach (string command in commands)
        {
            arguments.Add("-c");
            arguments.Add(command);
        }

        arguments.Add(uri);
        (int code, string output) = await RunAsync("qemu-io", arguments.ToArray());
        Assert.True(code == 0 && !output.Contains("failed", StringComparison.OrdinalIgnoreCase), $"qemu-io {string.Join(' ', commands)} failed ({code}): {output}");
        return output;
    }

    private static readonly string[] SearchPath = ["/usr/bin", "/usr/local/bin", "/bin"];

    private static string? Find(string file) => SearchPath.Select(d => Path.Combine(d, file)).FirstOrDefault(File.Exists);
}
