namespace Replicator.Hosts.Links;

/// <summary>
/// A host's name for one connection to its peer. The shell (daemon or simulator) owns the
/// connection and numbers it; the host refers to it only by this id, so a link that closed and a
/// new one are never confused, and stale frames of a retired link are recognised and dropped.
/// </summary>
public readonly record struct LinkId(long Value)
{
    public static LinkId None { get; } = new(0);

    public bool IsNone => Value == 0;

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
