namespace Replicator.Core.Tests.Support;

/// <summary>Stands in for a pooled payload's owner: counts how often it was given back.</summary>
internal sealed class CountingOwner : IDisposable
{
    public int Disposed { get; private set; }

    public void Dispose() => Disposed++;
}
