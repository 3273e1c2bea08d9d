using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Replicator.Runtime.Links;

/// <summary>
/// Turns a connected socket into the link's byte stream: TLS 1.3, both sides presenting the pair
/// key's certificate and accepting only it, or — only when an operator said <c>--insecure-link</c> —
/// the plain socket. Nothing is read as a frame before this completes, so nothing a peer sends
/// before it has proven the key reaches a host; a peer that fails gets its connection closed and no
/// word about the pair. TLS numbers its records and authenticates each one (AEAD), so a replayed,
/// reordered, dropped or changed byte ends the connection instead of reaching a frame.
/// </summary>
public static class LinkTransport
{
    /// <summary>The name the client asks for; the certificate is pinned, so it is a label, not a check.</summary>
    private const string TargetHost = "replicator";

    /// <summary>
    /// AES-128-GCM first: with AES instructions it encrypts about twice as fast as AES-256-GCM, which
    /// the TLS library otherwise takes (4.4 against 2.1 GB/s a core where measured, docs/performance.md),
    /// and the link's bandwidth is what its encryption leaves. Both ends offer the same three.
    /// </summary>
    private static readonly CipherSuitesPolicy? LinkCiphers = OperatingSystem.IsWindows() ? null : new([TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256]);

    /// <summary>What the link is, for the log at start: the key's fingerprint, or a plain warning.</summary>
    public static string Describe(LinkKey? key) => key is null
        ? "the replication link is NOT authenticated or encrypted (--insecure-link): anyone who reaches it can write into the replica"
        : $"the replication link is TLS 1.3, both ends proving pair key {key.Fingerprint} ({key.Path})";

    /// <summary>The secondary's side: the connection's stream once the peer proved the pair key, within <paramref name="timeout"/>.</summary>
    public static Task<Stream> AcceptAsync(Socket socket, LinkKey? key, TimeSpan timeout, TimeProvider time, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return key is null
            ? Task.FromResult<Stream>(new NetworkStream(socket, ownsSocket: false))
            : AuthenticateAsync(socket, key, asServer: true, timeout, time, cancellation);
    }

    /// <summary>The primary's side: the connection's stream once the peer proved the pair key, within <paramref name="timeout"/>.</summary>
    public static Task<Stream> ConnectAsync(Socket socket, LinkKey? key, TimeSpan timeout, TimeProvider time, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(socket);
        return key is null
            ? Task.FromResult<Stream>(new NetworkStream(socket, ownsSocket: false))
            : AuthenticateAsync(socket, key, asServer: false, timeout, time, cancellation);
    }

    /// <summary>
    /// Connects to <paramref name="endPoint"/> within <paramref name="connectTimeout"/> and proves
    /// the pair key as the connecting side: the socket and the link's stream. Throws
    /// <see cref="LinkAuthenticationException"/> when the peer does not prove the key, and
    /// <see cref="IOException"/> (with why) when no connection could be made; the socket is disposed either way.
    /// </summary>
    public static async Task<(Socket Socket, Stream Stream)> DialAsync(IPEndPoint endPoint, LinkKey? key, TimeSpan connectTimeout, TimeSpan handshakeTimeout, TimeProvider time, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endPoint, cancellation).AsTask().WaitAsync(connectTimeout, time, cancellation).ConfigureAwait(false);
            return (socket, await ConnectAsync(socket, key, handshakeTimeout, time, cancellation).ConfigureAwait(false));
        }
        catch (Exception e) when (e is SocketException or TimeoutException or OperationCanceledException or ObjectDisposedException)
        {
            socket.Dispose();
            throw new IOException(e.Message, e);
        }
        catch (LinkAuthenticationException)
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Stream> AuthenticateAsync(Socket socket, LinkKey key, bool asServer, TimeSpan timeout, TimeProvider time, CancellationToken cancellation)
    {
        var underTls = new BatchingSocketStream(new NetworkStream(socket, ownsSocket: false));
        var tls = new SslStream(underTls, leaveInnerStreamOpen: false, (_, presented, _, _) => key.IsPairCertificate(presented));
        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellation, deadline.Token);
        try
        {
            if (asServer)
            {
                var options = new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = key.Context,
                    ClientCertificateRequired = true,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    AllowRenegotiation = false,
                };
                if (!OperatingSystem.IsWindows())
                {
                    options.CipherSuitesPolicy = LinkCiphers;
                }

                await tls.AuthenticateAsServerAsync(options, linked.Token).ConfigureAwait(false);
            }
            else
            {
                var options = new SslClientAuthenticationOptions
                {
                    TargetHost = TargetHost,
                    ClientCertificateContext = key.Context,
                    EnabledSslProtocols = SslProtocols.Tls13,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    AllowRenegotiation = false,
                };
                if (!OperatingSystem.IsWindows())
                {
                    options.CipherSuitesPolicy = LinkCiphers;
                }

                await tls.AuthenticateAsClientAsync(options, linked.Token).ConfigureAwait(false);
            }

            underTls.StartBatching();
            return tls;
        }
        catch (Exception e) when (e is AuthenticationException or IOException or OperationCanceledException or SocketException or ObjectDisposedException)
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            string why = deadline.IsCancellationRequested && !cancellation.IsCancellationRequested
                ? $"no TLS handshake within {timeout.TotalMilliseconds} ms"
                : e.Message;
            throw new LinkAuthenticationException($"the peer did not prove the pair key: {why}", e);
        }
    }
}
