using System.Runtime.Versioning;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Tests.Links;

/// <summary>File modes are what keep a pair key to its owner: these run where there are modes.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class LinkKeyTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-key-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public void A_generated_key_is_owner_only_and_loads()
    {
        string path = Path.Combine(_directory, "pair.key");
        LinkKey.Generate(path);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        using LinkKey key = LinkKey.Load(path);
        Assert.True(key.Certificate.HasPrivateKey);
        Assert.True(key.IsPairCertificate(key.Certificate));
        Assert.Equal(16, key.Fingerprint.Length);
    }

    [Fact]
    public void Two_generated_keys_do_not_accept_each_other()
    {
        using LinkKey one = TestLinkKey.In(_directory, "one.key");
        using LinkKey other = TestLinkKey.In(_directory, "other.key");

        Assert.False(one.IsPairCertificate(other.Certificate));
        Assert.False(other.IsPairCertificate(one.Certificate));
        Assert.False(one.IsPairCertificate(null));
    }

    [Fact]
    public void Keygen_never_overwrites_a_file()
    {
        string path = Path.Combine(_directory, "pair.key");
        File.WriteAllText(path, "something an operator keeps");

        Assert.Throws<IOException>(() => LinkKey.Generate(path));
        Assert.Equal("something an operator keeps", File.ReadAllText(path));
    }

    [Fact]
    public void A_key_others_can_read_is_refused_naming_the_file()
    {
        string path = Path.Combine(_directory, "pair.key");
        LinkKey.Generate(path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);

        LinkKeyException refused = Assert.Throws<LinkKeyException>(() => LinkKey.Load(path));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
        Assert.Contains("chmod 600", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_or_malformed_key_is_refused_naming_the_file()
    {
        string missing = Path.Combine(_directory, "missing.key");
        Assert.Contains(missing, Assert.Throws<LinkKeyException>(() => LinkKey.Load(missing)).Message, StringComparison.Ordinal);

        string garbage = Path.Combine(_directory, "garbage.key");
        File.WriteAllText(garbage, "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
        File.SetUnixFileMode(garbage, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.Contains(garbage, Assert.Throws<LinkKeyException>(() => LinkKey.Load(garbage)).Message, StringComparison.Ordinal);
    }
}
