using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Replicator.Qemu.Qmp;

/// <summary>A negotiated QMP session: commands answered by id, events apart. The adapter's seam to QEMU.</summary>
public interface IQmpClient : IAsyncDisposable
{
    /// <summary>The version QEMU announced in its greeting.</summary>
    QemuVersion Version { get; }

    /// <summary>Every event in arrival order (bounded: the oldest are dropped if nobody reads).</summary>
    ChannelReader<QmpEvent> Events { get; }

    /// <summary>Completes when the connection is gone; faulted with the reason unless closed by us.</summary>
    Task Closed { get; }

    /// <summary>
    /// Sends a command and waits for its answer: its <c>return</c> value, or a
    /// <see cref="QmpCommandException"/>, <see cref="QmpTimeoutException"/> or
    /// <see cref="QmpConnectionClosedException"/>.
    /// </summary>
    Task<JsonElement> ExecuteAsync(string command, JsonObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts waiting, at once, for the first event that matches; call it before the command that
    /// causes the event so the event cannot slip by in between.
    /// </summary>
    Task<QmpEvent> WaitForEventAsync(Func<QmpEvent, bool> match, string description, TimeSpan? timeout = null, CancellationToken cancellationToken = default);
}
