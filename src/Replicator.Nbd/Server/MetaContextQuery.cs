using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Replicator.Nbd.Server;

/// <summary>
/// The queries of NBD_OPT_LIST_META_CONTEXT or NBD_OPT_SET_META_CONTEXT: an export name, then a
/// count of query strings, each with its length. Each query starts with a namespace ("base:").
/// </summary>
internal sealed class MetaContextQuery
{
    private MetaContextQuery(List<string> queries) => Queries = queries;

    public IReadOnlyList<string> Queries { get; }

    /// <summary>Splits the option's data; false (with what is wrong) when it is malformed.</summary>
    public static bool TryParse(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> exportName, [NotNullWhen(true)] out MetaContextQuery? query, [NotNullWhen(false)] out string? problem)
    {
        exportName = default;
        query = null;
        if (data.Length < 8 || BinaryPrimitives.ReadUInt32BigEndian(data) > (uint)(data.Length - 8))
        {
            problem = "the export name does not fit in the option";
            return false;
        }

        int nameLength = (int)BinaryPrimitives.ReadUInt32BigEndian(data);
        exportName = data.Slice(4, nameLength);
        ReadOnlySpan<byte> rest = data[(4 + nameLength)..];
        uint count = BinaryPrimitives.ReadUInt32BigEndian(rest);
        rest = rest[4..];
        var queries = new List<string>();
        for (uint i = 0; i < count; i++)
        {
            if (rest.Length < 4 || BinaryPrimitives.ReadUInt32BigEndian(rest) > (uint)(rest.Length - 4))
            {
                problem = $"{count} queries announced, query {i} does not fit in the option";
                return false;
            }

            int length = (int)BinaryPrimitives.ReadUInt32BigEndian(rest);
            ReadOnlySpan<byte> text = rest.Slice(4, length);
            if (length > NbdExport.MaxStringBytes || text.Contains((byte)0) || !System.Text.Unicode.Utf8.IsValid(text))
            {
                problem = $"query {i} is not a string of at most {NbdExport.MaxStringBytes} bytes of UTF-8 without NUL";
                return false;
            }

            queries.Add(Encoding.UTF8.GetString(text));
            rest = rest[(4 + length)..];
        }

        if (!rest.IsEmpty)
        {
            problem = $"{rest.Length} bytes follow the {count} queries announced";
            return false;
        }

        query = new MetaContextQuery(queries);
        problem = null;
        return true;
    }

    /// <summary>For listing: no query lists every context; a namespace alone ("base:") lists all of it; a full name lists itself.</summary>
    public bool Lists(string context) =>
        Queries.Count == 0 || Queries.Any(q => q == context || (q.EndsWith(':') && context.StartsWith(q, StringComparison.Ordinal)));

    /// <summary>For selecting: only the full name selects a context.</summary>
    public bool Selects(string context) => Queries.Contains(context);
}
