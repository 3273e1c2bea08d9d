namespace Replicator.Nbd.Tests.Support;

/// <summary>
/// The bound on every wait in these tests. Generous: it only turns a hang into a failure, and no
/// test measures time against it.
/// </summary>
internal static class Deadline
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public static CancellationToken Token() => new CancellationTokenSource(Wait).Token;
}
