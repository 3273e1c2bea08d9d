namespace Replicator.Hosts.Primary;

/// <summary>
/// The RAM pages of the checkpoints a primary sent since it started: their bytes as captured, what
/// they took on the link (encoded, if the link agreed on it), and how many went as differences from
/// a page both ends held. Written on the host's loop, read by any thread (metrics, status, benchmarks).
/// </summary>
public sealed class PageTraffic
{
    private long _capturedBytes;
    private long _sentBytes;
    private long _pagesAsDifference;

    public long CapturedBytes => Volatile.Read(ref _capturedBytes);

    public long SentBytes => Volatile.Read(ref _sentBytes);

    public long PagesAsDifference => Volatile.Read(ref _pagesAsDifference);

    internal void Add(long capturedBytes, long sentBytes, long pagesAsDifference)
    {
        Volatile.Write(ref _capturedBytes, _capturedBytes + capturedBytes);
        Volatile.Write(ref _sentBytes, _sentBytes + sentBytes);
        Volatile.Write(ref _pagesAsDifference, _pagesAsDifference + pagesAsDifference);
    }
}
