using System.Net;
using Replicator.Testing;
using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// A secondary and a primary daemon as separate processes on 127.0.0.1, each with its own image
/// file and state directory; optionally a proxy on the link between them. Interval checkpoints are
/// set far beyond a test's length, so only the test's explicit checkpoints happen.
/// </summary>
internal sealed class DaemonPair : IAsyncDisposable
{
    public const long ImageBytes = 16L << 20;

    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-e2e-").FullName;

    /// <summary>The pair key both daemons are started with, made when the pair is.</summary>
    public string LinkKey { get; }

    public string PrimaryImage => Path.Combine(_directory, "primary.img");

    public string SecondaryImage => Path.Combine(_directory, "secondary.img");

    /// <summary>A path in the pair's directory (deleted with it), for a test's own files.</summary>
    public string FileInDirectory(string name) => Path.Combine(_directory, name);

    public string PrimaryState => Path.Combine(_directory, "primary-state");

    public string SecondaryState => Path.Combine(_directory, "secondary-state");

    public int PrimaryNbd { get; } = ReplicatorProcess.FreePort();

    public int SecondaryNbd { get; } = ReplicatorProcess.FreePort();

    public int SecondaryPort { get; } = ReplicatorProcess.FreePort();

    public ReplicatorProcess? Primary { get; private set; }

    /// <summary>The pair's witness, once <see cref="StartWitness"/> started it.</summary>
    public ReplicatorProcess? Witness { get; private set; }

    public int WitnessPort { get; } = ReplicatorProcess.FreePort();

    public string WitnessState => Path.Combine(_directory, "witness-state");

    /// <summary>
    /// Starts the pair's witness with the pair's key. It votes only once its longest lease
    /// (<paramref name="maxLeaseMs"/>) could have run out since it started: kept short here.
    /// </summary>
    public ReplicatorProcess StartWitness(int maxLeaseMs = 1000)
    {
        Witness = ReplicatorProcess.Start("witness", "--listen", $"127.0.0.1:{WitnessPort}", "--state-dir", WitnessState, "--link-key", LinkKey, "--max-lease-ms", maxLeaseMs.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return Witness;
    }

    public ReplicatorProcess? Secondary { get; private set; }

    public TcpProxy? Proxy { get; private set; }

    /// <summary>When set, the primary exports on the Unix socket <see cref="PrimarySocket"/> (<c>--nbd unix:PATH</c>), not on <see cref="PrimaryNbd"/>.</summary>
    public bool PrimaryOnUnixSocket { get; init; }

    public string PrimarySocket => Path.Combine(_directory, "primary-nbd.sock");

    public string PrimaryUri => PrimaryOnUnixSocket ? $"nbd+unix:///?socket={PrimarySocket}" : $"nbd://127.0.0.1:{PrimaryNbd}/";

    public string SecondaryUri => $"nbd://127.0.0.1:{SecondaryNbd}/";

    public DaemonPair()
    {
        LinkKey = Path.Combine(_directory, "pair.key");
        Runtime.Links.LinkKey.Generate(LinkKey);
    }

    public static Task<DaemonPair> StartAsync(bool withProxy = false, params string[] secondaryOptions) =>
        StartAsync(withProxy, secondaryOptions, []);

    public static async Task<DaemonPair> StartAsync(bool withProxy, string[] secondaryOptions, string[] primaryOptions)
    {
        var pair = new DaemonPair();
        pair.CreateImages(ImageBytes, ImageBytes);
        pair.StartSecondary(secondaryOptions);
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        if (withProxy)
        {
            pair.Proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, pair.SecondaryPort));
        }

        pair.StartPrimary(primaryOptions);
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        return pair;
    }

    /// <summary>The primary's way to the witness when <see cref="StartWithWitnessAsync"/> put a proxy on it.</summary>
    public TcpProxy? WitnessProxy { get; private set; }

    /// <summary>
    /// A witness, then the pair, both nodes given the witness; with <paramref name="withProxies"/>
    /// the primary reaches the secondary through <see cref="Proxy"/> and the witness through
    /// <see cref="WitnessProxy"/>, so a test can cut the primary from either or both.
    /// </summary>
    public static async Task<DaemonPair> StartWithWitnessAsync(bool withProxies, string[] secondaryOptions, string[] primaryOptions)
    {
        var pair = new DaemonPair();
        pair.CreateImages(ImageBytes, ImageBytes);
        pair.StartWitness();
        await pair.Witness!.WaitForOutputAsync("witness listening");
        var witness = new IPEndPoint(IPAddress.Loopback, pair.WitnessPort);
        pair.StartSecondary([.. secondaryOptions, "--witness", witness.ToString()]);
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        if (withProxies)
        {
            pair.Proxy = new TcpProxy(new IPEndPoint(IPAddress.Loopback, pair.SecondaryPort));
            pair.WitnessProxy = new TcpProxy(witness);
        }

        pair.StartPrimary([.. primaryOptions, "--witness", (pair.WitnessProxy?.EndPoint ?? witness).ToString()]);
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        return pair;
    }

    /// <summary>
    /// A pair whose nodes know both addresses, so roles can change: the secondary replicates back to
    /// the first primary's <see cref="PrimaryPort"/> once promoted (failback).
    /// </summary>
    public static async Task<DaemonPair> StartWithPeersAsync(params string[] primaryOptions)
    {
        var pair = new DaemonPair();
        pair.CreateImages(ImageBytes, ImageBytes);
        pair.StartSecondary(pair.PeerOfSecondary);
        await pair.Secondary!.WaitForOutputAsync("listening for the primary");
        pair.StartPrimary(primaryOptions);
        await pair.Primary!.WaitForOutputAsync("exporting the protected disk over NBD");
        return pair;
    }

    /// <summary>Both images start as the same bytes (a byte copy), as the pair's initial state.</summary>
    public void CreateImages(long primaryBytes, long secondaryBytes)
    {
        byte[] initial = new byte[Math.Max(primaryBytes, secondaryBytes)];
        new Random(42).NextBytes(initial.AsSpan(0, (int)Math.Min(initial.Length, 1 << 20)));
        File.WriteAllBytes(PrimaryImage, initial.AsSpan(0, (int)primaryBytes).ToArray());
        File.WriteAllBytes(SecondaryImage, initial.AsSpan(0, (int)secondaryBytes).ToArray());
    }

    public void StartSecondary(params string[] options) => StartSecondaryUnderUmask(null, options);

    /// <summary>The secondary, under <paramref name="umask"/> when one is given.</summary>
    public void StartSecondaryUnderUmask(string? umask, params string[] options)
    {
        string[] arguments = ["secondary", "--image", SecondaryImage, "--listen", $"127.0.0.1:{SecondaryPort}", "--state-dir", SecondaryState, "--nbd", $"127.0.0.1:{SecondaryNbd}", .. WithLink(options)];
        Secondary = umask is null ? ReplicatorProcess.Start(arguments) : ReplicatorProcess.StartUnderUmask(umask, arguments);
    }

    /// <summary>Where the first primary listens once it comes back as a secondary (failback): its <c>--listen</c>, the promoted node's <c>--peer</c>.</summary>
    public int PrimaryPort { get; } = ReplicatorProcess.FreePort();

    /// <summary>The first primary restarted as a secondary on its own image and state directory, following the node that took over.</summary>
    public ReplicatorProcess StartPrimaryAsSecondary(params string[] options)
    {
        Primary = ReplicatorProcess.Start(["secondary", "--image", PrimaryImage, "--listen", $"127.0.0.1:{PrimaryPort}", "--peer", $"127.0.0.1:{SecondaryPort}",
            "--state-dir", PrimaryState, "--nbd", $"127.0.0.1:{PrimaryNbd}", .. WithLink(options)]);
        return Primary;
    }

    /// <summary>The secondary's options that make it replicate back to the first primary once promoted.</summary>
    public string[] PeerOfSecondary => ["--peer", $"127.0.0.1:{PrimaryPort}", "--reconnect-ms", "100"];

    /// <summary>
    /// The primary vouches that a blank secondary's image equals its own (<see cref="CreateImages"/>
    /// makes them so): the pair starts without a sync. Off for tests of the initial sync.
    /// </summary>
    public bool SkipInitialSync { get; set; } = true;

    public void StartPrimary(params string[] options) => StartPrimaryAfter(null, options);

    /// <summary>The primary, after a shell set-up command (a ulimit, say) when one is given.</summary>
    public void StartPrimaryAfter(string? setup, params string[] options)
    {
        string[] arguments = ["primary", "--image", PrimaryImage, "--peer", $"127.0.0.1:{Proxy?.Port ?? SecondaryPort}", "--nbd", PrimaryOnUnixSocket ? $"unix:{PrimarySocket}" : $"127.0.0.1:{PrimaryNbd}",
            "--state-dir", PrimaryState, "--epoch-ms", "3600000", .. SkipInitialSync ? ["--skip-initial-sync"] : Array.Empty<string>(), .. WithLink(options)];
        Primary = setup is null ? ReplicatorProcess.Start(arguments) : ReplicatorProcess.StartAfter(setup, arguments);
    }

    /// <summary>The pair's key unless the test names its own link (another key, or --insecure-link).</summary>
    private string[] WithLink(string[] options) =>
        options.Contains("--link-key") || options.Contains("--insecure-link") ? options : [.. options, "--link-key", LinkKey];

    public async Task<long> CheckpointAsync()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("checkpoint", "--state-dir", PrimaryState);
        Assert.True(code == 0, $"checkpoint failed: {output}");
        return JsonNode.Parse(output)!["acknowledged"]!.GetValue<long>();
    }

    public async Task<long> FailoverAsync()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("failover", "--state-dir", SecondaryState);
        Assert.True(code == 0, $"failover failed: {output}\n{Secondary?.Output}");
        long epoch = JsonNode.Parse(output)!["epoch"]!.GetValue<long>();
        await Secondary!.WaitForOutputAsync("serving the image over NBD");
        await WaitUntilTakeoverDrainedAsync();
        return epoch;
    }

    /// <summary>
    /// The promoted node serves at once, through the committed epochs still draining into its image:
    /// a test that reads the image file itself waits for the drain to be over.
    /// </summary>
    public Task WaitUntilTakeoverDrainedAsync() => Secondary!.WaitForOutputAsync("takeover drained");

    /// <summary>The whole disk as an NBD client reads it through an export (qemu-img convert into a file).</summary>
    public async Task<byte[]> ReadThroughNbdAsync(string uri)
    {
        string copy = Path.Combine(_directory, $"read-{Guid.NewGuid():N}.img");
        (int code, string output) = await Tool.RunAsync("qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copy);
        Assert.True(code == 0, $"qemu-img convert {uri} failed: {output}");
        byte[] bytes = await File.ReadAllBytesAsync(copy);
        File.Delete(copy);
        return bytes;
    }

    public static async Task<JsonNode> StatusAsync(string stateDirectory)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("status", "--state-dir", stateDirectory, "--json");
        Assert.True(code == 0, $"status failed: {output}");
        return JsonNode.Parse(output)!;
    }

    /// <summary>Asks the primary's status until replication is reported degraded (bounded: each ask is a process start).</summary>
    public async Task<string> WaitUntilDegradedAsync()
    {
        for (int attempt = 0; attempt < 200; attempt++)
        {
            string? degraded = (await StatusAsync(PrimaryState))["status"]?["Degraded"]?.GetValue<string>();
            if (degraded is not null)
            {
                return degraded;
            }
        }

        throw new InvalidOperationException("the primary never reported the secondary lost");
    }

    public async ValueTask DisposeAsync()
    {
        if (Primary is not null)
        {
            await Primary.DisposeAsync();
        }

        if (Secondary is not null)
        {
            await Secondary.DisposeAsync();
        }

        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }

        if (Witness is not null)
        {
            await Witness.DisposeAsync();
        }

        if (WitnessProxy is not null)
        {
            await WitnessProxy.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }
}
