namespace Replicator.Core.Primary;

/// <summary>What a resync copies.</summary>
public enum ResyncScope
{
    /// <summary>The regions written since the secondary's checkpoint, from the dirty-region map.</summary>
    DirtyRegions,

    /// <summary>Every region: the secondary's image is blank, or not known to relate to the primary's by epochs.</summary>
    WholeImage,
}
