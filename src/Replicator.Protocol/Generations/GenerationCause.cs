namespace Replicator.Protocol.Generations;

/// <summary>Why a node began a new data generation. Values are fixed: they are sent and stored.</summary>
public enum GenerationCause
{
    /// <summary>Sent by nothing this build writes; read as "not said".</summary>
    Unknown = 0,

    /// <summary>The primary's first start: its image is where the pair's data begins.</summary>
    Created = 1,

    /// <summary>The primary went on accepting guest writes with no secondary following.</summary>
    UnprotectedWriting = 2,

    /// <summary>A secondary was promoted and accepts guest writes from its last checkpoint on.</summary>
    Promotion = 3,
}
