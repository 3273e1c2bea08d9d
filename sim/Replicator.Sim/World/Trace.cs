using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace Replicator.Sim.World;

/// <summary>
/// What happened in a run: a running hash of every significant event (the determinism check
/// compares it between two runs of one seed) and, when asked for, a readable line per event.
/// </summary>
internal sealed class Trace(SimScheduler clock, bool keepLines)
{
    private readonly XxHash64 _hash = new();
    private readonly List<string> _lines = new();

    public IReadOnlyList<string> Lines => _lines;

    public ulong Hash => _hash.GetCurrentHashAsUInt64();

    public void Event(string what, long a = 0, long b = 0)
    {
        Span<long> fields = [clock.Now, a, b];
        _hash.Append(MemoryMarshal.AsBytes(fields));
        _hash.Append(MemoryMarshal.AsBytes(what.AsSpan()));
        if (keepLines)
        {
            _lines.Add($"{clock.Now / 1000.0,10:F3} ms  {what} {a} {b}");
        }
    }

    /// <summary>A line for the readable trace only (the hash covers the same fact through <see cref="Event"/>).</summary>
    public void Note(Func<string> line)
    {
        if (keepLines)
        {
            _lines.Add($"{clock.Now / 1000.0,10:F3} ms  {line()}");
        }
    }
}
