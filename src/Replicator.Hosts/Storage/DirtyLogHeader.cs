namespace Replicator.Hosts.Storage;

/// <summary>
/// One transaction of the activity log, written whole into one of the log's two header slots: the
/// extents that may be written now, whether the primary is running (in use), and the checkpoint and
/// data generation of its secondary that the bitmap is complete against.
/// </summary>
/// <param name="Transaction">Counts up by one per write; the intact slot with the higher one is the log's state.</param>
/// <param name="LogId">Drawn when the file is created and recorded in the state record: a log that is not the one the record names is not trusted.</param>
/// <param name="Geometry">The image and granularities the log was kept for.</param>
/// <param name="InUse">
/// The primary runs (or crashed): writes may be landing in <paramref name="ActiveExtents"/>, which a
/// restart must copy too. Cleared only by a clean stop, after the bitmap alone says everything.
/// </param>
/// <param name="AcknowledgedEpoch">
/// Every region the bitmap and active extents do not name is equal on a secondary that holds this
/// checkpoint of the stream (or a later one) and the primary's image, as the primary's disk holds it durably.
/// </param>
/// <param name="ActiveExtents">The activity log: extents that may be written without a further header.</param>
/// <param name="AcknowledgedGeneration">The data generation that secondary holds (0: none known: the log helps no secondary).</param>
public sealed record DirtyLogHeader(
    long Transaction,
    ulong LogId,
    DirtyLogGeometry Geometry,
    bool InUse,
    long AcknowledgedEpoch,
    ulong AcknowledgedGeneration,
    IReadOnlyList<long> ActiveExtents);
