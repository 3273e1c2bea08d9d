namespace Replicator.Benchmarks.Support;

/// <summary>Where disk-bound benchmarks keep their files: under REPLICATOR_BENCH_DIR, or the temp directory.</summary>
internal static class BenchDirectory
{
    /// <summary>A directory of its own for this benchmark process, named <paramref name="name"/> and the process id.</summary>
    public static DirectoryInfo Create(string name)
    {
        string root = Environment.GetEnvironmentVariable("REPLICATOR_BENCH_DIR") is { Length: > 0 } dir ? dir : Path.GetTempPath();
        return Directory.CreateDirectory(Path.Combine(root, $"{name}-{Environment.ProcessId}"));
    }
}
