using Microsoft.Extensions.Logging;
using Replicator.Hosts.Storage;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Primary;

/// <summary>
/// A primary with replication off (<see cref="PrimaryNodeOptions.Unreplicated"/>): the same engine,
/// the same local I/O workers on the same image, no secondary. The engine starts degraded, so it
/// admits every request at once, mirrors nothing and takes no checkpoints — exactly the local half
/// of a replicated primary, which makes it the honest baseline for what replication costs.
/// </summary>
public sealed partial class PrimaryNode
{
    public const string UnreplicatedReason = "replication is off (started without a secondary): the guest's writes are not protected";

    /// <summary>Bytes this primary has sent to its secondary on the current link, frame headers included.</summary>
    public long LinkBytesSent => _link?.BytesSent ?? 0;

    private void StartUnreplicated(NodeStateStore states, NodeState state)
    {
        // The image now moves on alone: whatever secondary it had is no longer known to be equal.
        _states = states;
        _state = state with { AppliedEpoch = -1 };
        states.Save(_state);
        _engine = new PrimaryEngine(
            new PrimaryOptions
            {
                Geometry = new BlockGeometry(_image!.Size, _options.MaxRequestBytes),
                // Never charged: a degraded engine takes no credit. It only has to pass validation.
                SecondaryBufferBytes = 2L * (_options.MaxRequestBytes + MirrorRecord.RecordOverheadBytes),
            },
            _actions);
        Log.RunningUnreplicated(_log, _options.ImagePath);
        _engine.OnSecondaryLost(UnreplicatedReason);

        var loops = new List<Task> { EventLoopAsync() };
        for (int i = 0; i < _options.LocalIoWorkers; i++)
        {
            loops.Add(LocalIoLoopAsync());
        }

        _loops = Task.WhenAll(loops);
    }

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Warning, "replication is off: serving {Image} with no secondary; the guest's writes are not protected")]
        public static partial void RunningUnreplicated(ILogger logger, string image);
    }
}
