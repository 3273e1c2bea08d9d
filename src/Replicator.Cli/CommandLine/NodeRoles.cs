namespace Replicator.Cli.CommandLine;

/// <summary>Which daemons take a setting.</summary>
[Flags]
internal enum NodeRoles
{
    Primary = 1,
    Secondary = 2,
    Both = Primary | Secondary,
}
