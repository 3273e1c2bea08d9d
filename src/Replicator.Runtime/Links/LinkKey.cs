using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Replicator.Runtime.Links;

/// <summary>
/// The pair key: one ECDSA P-256 key and a self-signed certificate for it, in one PEM file that both
/// daemons of a pair hold. The link is TLS 1.3 with the certificate on both sides, and each side
/// accepts exactly this certificate from its peer (pinned by its SHA-256 hash) — so a peer is
/// authenticated by proving it holds the private key, and nothing else (no CA, no host names) is
/// trusted. Whoever reads the file can join the pair: it is created owner-only and refused when it
/// is not.
/// </summary>
public sealed class LinkKey : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly byte[] _pinnedHash;

    private LinkKey(string path, X509Certificate2 certificate)
    {
        Path = path;
        Certificate = certificate;
        _pinnedHash = certificate.GetCertHash(HashAlgorithmName.SHA256);
        Context = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    /// <summary>The file the key was read from, for messages.</summary>
    public string Path { get; }

    /// <summary>The certificate (with its private key) this side presents.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate as TLS sends it.</summary>
    public SslStreamCertificateContext Context { get; }

    /// <summary>A short, non-secret name for the key (the start of its certificate's SHA-256), for logs and status.</summary>
    public string Fingerprint => Convert.ToHexStringLower(_pinnedHash.AsSpan(0, 8));

    /// <summary>Writes a fresh pair key to <paramref name="path"/>, owner-only (0600); refuses to overwrite a file.</summary>
    public static void Generate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=replicator pair key", key, HashAlgorithmName.SHA256);
        DateTimeOffset now = DateTimeOffset.UtcNow;

        // The certificate is pinned, not trusted through a chain: its dates only have to cover the pair's life.
        using X509Certificate2 certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(100));
        string pem = key.ExportPkcs8PrivateKeyPem() + "\n" + certificate.ExportCertificatePem() + "\n";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            // Owner-only from the first instant, whatever the umask.
            options.UnixCreateMode = OwnerOnly;
        }

        using var file = new FileStream(path, options);
        using var writer = new StreamWriter(file);
        writer.Write(pem);
    }

    /// <summary>
    /// Reads a pair key. Throws <see cref="LinkKeyException"/> naming the file when it is missing,
    /// readable by others than its owner, or not a key and certificate that belong together.
    /// </summary>
    public static LinkKey Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new LinkKeyException($"link key {path} does not exist (make one with: replicator keygen --out {path}, and copy it to both nodes)");
        }

        if (!OperatingSystem.IsWindows())
        {
            UnixFileMode mode = File.GetUnixFileMode(path);
            if ((mode & ~(OwnerOnly | UnixFileMode.UserExecute)) != 0)
            {
                throw new LinkKeyException($"link key {path} is open to others than its owner (mode {Convert.ToString((int)mode, 8)}); anyone who reads it can join the pair: chmod 600 {path}");
            }
        }

        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPemFile(path);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new LinkKeyException($"link key {path} is not a pair key made by replicator keygen: {e.Message}", e);
        }

        if (!certificate.HasPrivateKey || certificate.GetECDsaPublicKey() is null)
        {
            certificate.Dispose();
            throw new LinkKeyException($"link key {path} holds no ECDSA private key for its certificate");
        }

        return new LinkKey(path, certificate);
    }

    /// <summary>True when the peer presented exactly this pair's certificate.</summary>
    public bool IsPairCertificate(X509Certificate? presented)
    {
        if (presented is null)
        {
            return false;
        }

        byte[] hash = presented.GetCertHash(HashAlgorithmName.SHA256);
        return CryptographicOperations.FixedTimeEquals(hash, _pinnedHash);
    }

    public void Dispose() => Certificate.Dispose();
}
