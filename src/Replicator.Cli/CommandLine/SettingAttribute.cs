namespace Replicator.Cli.CommandLine;

/// <summary>
/// Marks a <see cref="Hosting.NodeSettings"/> property as a setting: the daemons that take it and
/// what it means. Its command-line option is the property's name in kebab case (EpochMs:
/// <c>--epoch-ms</c>); its configuration key is the name itself (<c>Replicator:EpochMs</c>).
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class SettingAttribute(NodeRoles roles, string description) : Attribute
{
    public NodeRoles Roles { get; } = roles;

    public string Description { get; } = description;
}
