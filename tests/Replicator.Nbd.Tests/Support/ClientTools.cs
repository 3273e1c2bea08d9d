using System.Diagnostics;

namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// Runs the real NBD clients (qemu-io, nbdsh, nbdinfo). A missing tool fails the test, never skips
/// it: scripts/install-test-deps.sh installs them, and a silently skipped end-to-end test would
/// hide that it was never run.
/// </summary>
internal static class ClientTools
{
    // System directories first: nbdsh runs "python3 -m nbd", and only the system Python has the
    // libnbd module (a pyenv or virtualenv python3 earlier in PATH does not).
    private static readonly string SearchPath = string.Join(
        Path.PathSeparator,
        new[] { "/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin" }.Concat((Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)));

    public static string Find(string tool)
    {
        foreach (string directory in SearchPath.Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(directory, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"{tool} is not installed; run scripts/install-test-deps.sh (it installs qemu-utils, libnbd-bin and python3-libnbd)");
        return "";
    }

    public static async Task<ToolResult> RunAsync(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(Find(tool))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["PATH"] = SearchPath;
        string commandLine = $"{tool} {string.Join(' ', arguments.Select(Quote))}";

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {tool}");
        process.StandardInput.Close();
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync(Deadline.Token());
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{commandLine} did not exit within {Deadline.Wait}");
        }

        return new ToolResult(commandLine, process.ExitCode, await output, await errors);
    }

    private static string Quote(string argument) =>
        argument.Contains(' ', StringComparison.Ordinal) || argument.Contains('\n', StringComparison.Ordinal) ? $"'{argument}'" : argument;
}
