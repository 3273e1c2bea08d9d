using Replicator.Cli.CommandLine;
using Replicator.Nbd;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Secondary;

namespace Replicator.Cli.Hosting;

/// <summary>What a node daemon runs each of its roles with.</summary>
internal sealed record NodeDaemonOptions
{
    /// <summary>The role its command starts it in.</summary>
    public required NodeRoles StartsAs { get; init; }

    public required string StateDirectory { get; init; }

    /// <summary>The secondary's options: always for <c>replicator secondary</c>; for a primary only with <c>--listen</c> (it can then hand over in a switchover).</summary>
    public SecondaryNodeOptions? Secondary { get; init; }

    /// <summary>The primary <c>replicator primary</c> starts as; null for <c>replicator secondary</c>.</summary>
    public PrimaryNodeOptions? Primary { get; init; }

    /// <summary>The primary the node runs once promoted (it serves at once and replicates to <c>--peer</c> in the background).</summary>
    public required PrimaryNodeOptions Promoted { get; init; }

    /// <summary>The export, served while the node is a primary; null: none.</summary>
    public NbdServerOptions? Nbd { get; init; }

    public LinkKey? LinkKey { get; init; }

    /// <summary>The QEMU guest the node runs while it is a primary (<c>--vm qemu</c>), its disk the export; null: none.</summary>
    public Replicator.Qemu.Config.VmConfig? Vm { get; init; }

    /// <summary>Where Prometheus scrapes the node's metrics (<c>--metrics</c>), said in the log at start; null: not served.</summary>
    public string? MetricsUrl { get; init; }
}
