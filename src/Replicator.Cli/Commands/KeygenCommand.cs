using Replicator.Runtime.Links;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator keygen --out FILE</c>: a fresh pair key, owner-only, never over an existing file.</summary>
internal static class KeygenCommand
{
    public static int Run(string path, TextWriter output, TextWriter errors)
    {
        try
        {
            LinkKey.Generate(path);
            using LinkKey key = LinkKey.Load(path);
            output.WriteLine($"wrote pair key {key.Fingerprint} to {path} (owner-only); copy it to both nodes over a trusted channel and pass --link-key {path} to each daemon");
            return 0;
        }
        catch (IOException e) when (File.Exists(path))
        {
            errors.WriteLine($"replicator keygen: {path} exists; a pair key is never overwritten ({e.Message})");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LinkKeyException)
        {
            errors.WriteLine($"replicator keygen: cannot write {path}: {e.Message}");
            return 1;
        }
    }
}
