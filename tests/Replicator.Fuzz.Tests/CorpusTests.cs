using Replicator.Fuzz.Tests.Infrastructure;

namespace Replicator.Fuzz.Tests;

/// <summary>
/// The committed seed corpora are exactly what <see cref="CorpusGenerator"/> writes. To regenerate
/// them after a format change: <c>REPLICATOR_FUZZ_WRITE_CORPUS=1 dotnet test tests/Replicator.Fuzz.Tests -c Release --filter FullyQualifiedName~CorpusTests</c>.
/// </summary>
public class CorpusTests
{
    [Fact]
    public void The_committed_corpus_is_what_the_generator_writes()
    {
        bool write = Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_WRITE_CORPUS") == "1";
        string root = write ? Corpus.SourceDirectory : Corpus.OutputDirectory;
        var problems = new List<string>();
        foreach ((string target, IReadOnlyDictionary<string, byte[]> files) in CorpusGenerator.All())
        {
            string directory = Path.Combine(root, target);
            if (write)
            {
                Directory.CreateDirectory(directory);
                foreach (string stale in Directory.GetFiles(directory, Corpus.GeneratedPrefix + "*").Where(path => !files.ContainsKey(Path.GetFileName(path))))
                {
                    File.Delete(stale);
                }

                foreach ((string name, byte[] bytes) in files)
                {
                    File.WriteAllBytes(Path.Combine(directory, name), bytes);
                }

                continue;
            }

            foreach ((string name, byte[] bytes) in files)
            {
                string path = Path.Combine(directory, name);
                if (!File.Exists(path))
                {
                    problems.Add($"{target}/{name} is missing");
                }
                else if (!File.ReadAllBytes(path).AsSpan().SequenceEqual(bytes))
                {
                    problems.Add($"{target}/{name} differs from what the generator writes now");
                }
            }

            if (Directory.Exists(directory))
            {
                problems.AddRange(Directory.GetFiles(directory, Corpus.GeneratedPrefix + "*")
                    .Select(Path.GetFileName)
                    .Where(name => !files.ContainsKey(name!))
                    .Select(name => $"{target}/{name} is no longer generated"));
            }
        }

        Assert.True(problems.Count == 0, "The seed corpus is stale; regenerate it (docs/fuzzing.md):\n" + string.Join("\n", problems));
    }
}
