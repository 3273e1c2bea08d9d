using System.CommandLine;
using System.Reflection;
using System.Text;
using Replicator.Cli.Hosting;

namespace Replicator.Cli.CommandLine;

/// <summary>
/// The options of one daemon role, made from the <see cref="SettingAttribute"/> properties of
/// <see cref="NodeSettings"/> so that every setting has exactly one name on the command line and one
/// in configuration. Options of the other role are refused by name rather than as unknown.
/// </summary>
internal sealed class DaemonOptions
{
    private readonly List<(PropertyInfo Property, Option Option, Func<ParseResult, object?> Value)> _own = new();

    public DaemonOptions(NodeRoles role)
    {
        Role = role;
        foreach (PropertyInfo property in Settings)
        {
            SettingAttribute setting = property.GetCustomAttribute<SettingAttribute>()!;
            string name = OptionName(property);
            if ((setting.Roles & role) != 0)
            {
                (Option option, Func<ParseResult, object?> value) = Create(property.PropertyType, name, setting.Description);
                _own.Add((property, option, value));
                All.Add(option);
            }
            else
            {
                // Said to the wrong daemon: a clear refusal naming the daemon that takes it.
                (Option option, _) = Create(property.PropertyType, name, setting.Description);
                option.Hidden = true;
                string owner = setting.Roles == NodeRoles.Primary ? "primary" : "secondary";
                option.Validators.Add(result =>
                {
                    // A flag has a result even when not given (its default): only a given one is refused.
                    if (!result.Implicit)
                    {
                        result.AddError($"{name} is an option of replicator {owner}, not of replicator {RoleName}");
                    }
                });
                All.Add(option);
            }
        }
    }

    public NodeRoles Role { get; }

    public string RoleName => Role == NodeRoles.Primary ? "primary" : "secondary";

    /// <summary>Every option to add to the role's command, the other role's hidden ones included.</summary>
    public List<Option> All { get; } = new();

    /// <summary>The settings, in declaration order.</summary>
    public static IEnumerable<PropertyInfo> Settings =>
        typeof(NodeSettings).GetProperties().Where(p => p.GetCustomAttribute<SettingAttribute>() is not null);

    /// <summary>EpochMs → --epoch-ms.</summary>
    public static string OptionName(PropertyInfo property)
    {
        ArgumentNullException.ThrowIfNull(property);
        var name = new StringBuilder("--");
        foreach (char c in property.Name)
        {
            if (char.IsUpper(c) && name.Length > 2)
            {
                name.Append('-');
            }

            name.Append(char.ToLowerInvariant(c));
        }

        return name.ToString();
    }

    /// <summary>The settings with what the command line gave explicitly laid over <paramref name="configured"/>.</summary>
    public NodeSettings Apply(ParseResult parsed, NodeSettings configured)
    {
        ArgumentNullException.ThrowIfNull(parsed);
        foreach ((PropertyInfo property, Option option, Func<ParseResult, object?> value) in _own)
        {
            if (parsed.GetResult(option) is { Implicit: false })
            {
                property.SetValue(configured, value(parsed));
            }
        }

        return configured;
    }

    private static (Option Option, Func<ParseResult, object?> Value) Create(Type type, string name, string description) =>
        type == typeof(int) ? Typed<int>(name, description)
        : type == typeof(long) ? Typed<long>(name, description)
        : type == typeof(bool) ? Typed<bool>(name, description)
        : type == typeof(string) ? Typed<string>(name, description)
        : throw new InvalidOperationException($"setting {name} has a type the command line does not take: {type}");

    private static (Option Option, Func<ParseResult, object?> Value) Typed<T>(string name, string description)
    {
        var option = new Option<T>(name) { Description = description };
        return (option, parsed => parsed.GetValue(option));
    }
}
