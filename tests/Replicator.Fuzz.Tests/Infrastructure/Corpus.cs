using System.Reflection;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>One seed input: a file of a target's corpus.</summary>
internal sealed record CorpusEntry(string Name, byte[] Bytes);

/// <summary>
/// The seed corpora: small binary files of valid (or once-failing) inputs under
/// <c>Corpus/&lt;target&gt;/</c>, copied beside the test assembly. Files named <c>gen-*</c> are written
/// by <see cref="CorpusGenerator"/>; any other file (an input a harness once failed on) is kept as is.
/// </summary>
internal static class Corpus
{
    public const string GeneratedPrefix = "gen-";

    public static string OutputDirectory => Path.Combine(AppContext.BaseDirectory, "Corpus");

    /// <summary>The corpus in the source tree, for regenerating it.</summary>
    public static string SourceDirectory =>
        typeof(Corpus).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "CorpusSourceDirectory").Value!;

    private static readonly Dictionary<string, IReadOnlyList<CorpusEntry>> Loaded = [];

    /// <summary>Every file of a target's corpus, in name order.</summary>
    public static IReadOnlyList<CorpusEntry> Load(string target)
    {
        lock (Loaded)
        {
            if (!Loaded.TryGetValue(target, out IReadOnlyList<CorpusEntry>? entries))
            {
                string directory = Path.Combine(OutputDirectory, target);
                entries = Directory.Exists(directory)
                    ? Directory.GetFiles(directory)
                        .Order(StringComparer.Ordinal)
                        .Select(path => new CorpusEntry(Path.GetFileName(path), File.ReadAllBytes(path)))
                        .ToArray()
                    : [];
                if (entries.Count == 0)
                {
                    throw new InvalidOperationException($"the corpus of {target} is empty ({directory}): see docs/fuzzing.md to regenerate it");
                }

                Loaded[target] = entries;
            }

            return entries;
        }
    }

    public static byte[][] Bytes(string target) => Load(target).Select(entry => entry.Bytes).ToArray();
}
