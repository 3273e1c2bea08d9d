using Replicator.Core.Testing;

namespace Replicator.Core.Primary;

/// <summary>The two doors <see cref="PlantedPrimaryActions"/> uses; nothing else calls them.</summary>
public sealed partial class PrimaryEngine
{
    /// <summary>Begins the capture now, whatever is still in flight (<see cref="PlantedBug.SkipDrain"/>).</summary>
    internal void PlantedCaptureNow() => BeginCapture();

    /// <summary>Releases held output through <paramref name="epoch"/>, acknowledged or not (<see cref="PlantedBug.EarlyOutput"/>).</summary>
    internal void PlantedReleaseOutputThrough(long epoch) => _outputs.ReleaseThrough(epoch, _actions);
}
