namespace Replicator.Nbd.Tests.Support;

/// <summary>How a client tool's run ended.</summary>
internal sealed record ToolResult(string CommandLine, int ExitCode, string Output, string Errors)
{
    /// <summary>Everything about the run, for assertion messages.</summary>
    public override string ToString() =>
        $"$ {CommandLine}{Environment.NewLine}exit {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Output}{Environment.NewLine}stderr:{Environment.NewLine}{Errors}";
}
