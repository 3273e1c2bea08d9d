using System.Diagnostics;
using System.Runtime.Versioning;
using System.Text.Json.Nodes;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// The cluster resource agent scripts/ocf/replicator with real daemons on 127.0.0.1: Debian's
/// ocf-tester on one node that holds the pair's data, its checks of a misspelt or missing
/// parameter, and two nodes moved between as a cluster would (the cluster's attribute store
/// played by a small crm_attribute that keeps each attribute in a file).
/// </summary>
[UnsupportedOSPlatform("windows")]
public sealed class OcfAgentTests
{
    private const int OcfSuccess = 0;
    private const int OcfErrGeneric = 1;
    private const int OcfErrConfigured = 6;
    private const int OcfNotRunning = 7;
    private const int OcfRunningPromoted = 8;
    private const int OcfFailedPromoted = 9;

    [Fact]
    public async Task Ocf_tester_passes_the_agent_on_a_node_that_holds_the_pairs_data()
    {
        await using DaemonPair pair = await PairStoppedCleanlyAsync();
        string agent = InstallAgent(pair);
        var node = Node.Beta(pair, peerPort: ReplicatorProcess.FreePort());

        List<string> arguments = ["-n", "rep"];
        foreach ((string name, string value) in node.Parameters)
        {
            arguments.AddRange(["-o", $"{name}={value}"]);
        }

        arguments.Add(agent);
        await using var cleanup = new StopOnDispose(agent, node);
        (int code, string output) = await RunAsync(OcfTester(), arguments, new Dictionary<string, string>());
        Assert.True(code == 0, $"ocf-tester failed ({code}):\n{output}\n--- the daemon's log:\n{ReadLog(node)}");
        Assert.Contains("passed all tests", output, StringComparison.Ordinal);

        // The cycles were real: the follower was failed over to, rested, and resumed as the writer.
        string log = ReadLog(node);
        Assert.Contains("promoted at checkpoint", log, StringComparison.Ordinal);
        Assert.Contains("still promoted after a restart", log, StringComparison.Ordinal);
        Assert.Equal(OcfNotRunning, (await AgentAsync(agent, "monitor", node)).Code);
    }

    [Fact]
    public async Task Validate_all_names_a_misspelt_or_missing_parameter_and_a_blank_node_is_never_promoted()
    {
        await using var pair = new DaemonPair();
        pair.CreateImages(DaemonPair.ImageBytes, DaemonPair.ImageBytes);
        string agent = InstallAgent(pair);
        var node = Node.Beta(pair, peerPort: ReplicatorProcess.FreePort());
        await using var cleanup = new StopOnDispose(agent, node);

        (int code, string output) = await AgentAsync(agent, "validate-all", node with { Parameters = Rename(node.Parameters, "link_key", "link_kye") });
        Assert.Equal(OcfErrConfigured, code);
        Assert.Contains("unknown parameter link_kye: did you mean link_key?", output, StringComparison.Ordinal);

        (code, output) = await AgentAsync(agent, "validate-all", node with { Parameters = node.Parameters.Where(p => p.Key != "image").ToDictionary() });
        Assert.Equal(OcfErrConfigured, code);
        Assert.Contains("parameter image is required", output, StringComparison.Ordinal);

        (code, output) = await AgentAsync(agent, "validate-all", node with { Parameters = new Dictionary<string, string>(node.Parameters) { ["options"] = "--epoch-ms 25 --auto-failover" } });
        Assert.Equal(OcfErrConfigured, code);
        Assert.Contains("--auto-failover would let the daemon promote itself", output, StringComparison.Ordinal);

        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "validate-all", node)).Code);
        Assert.Equal(OcfNotRunning, (await AgentAsync(agent, "monitor", node)).Code);

        // A blank node follows, but holds no checkpoint: promotion is refused, saying why, and it
        // goes on following.
        (code, output) = await AgentAsync(agent, "start", node);
        Assert.True(code == OcfSuccess, output);
        (code, output) = await AgentAsync(agent, "promote", node);
        Assert.Equal(OcfErrGeneric, code);
        Assert.Contains("never held the pair's data", output, StringComparison.Ordinal);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", node)).Code);
        Assert.Equal("secondary", (await DaemonPair.StatusAsync(pair.SecondaryState))["role"]!.GetValue<string>());

        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "stop", node)).Code);
        Assert.Equal(OcfNotRunning, (await AgentAsync(agent, "monitor", node)).Code);
    }

    [Fact]
    public async Task A_killed_writer_is_reported_failed_and_recovers_as_the_cluster_recovers_it_with_its_data()
    {
        await using DaemonPair pair = await PairStoppedCleanlyAsync();
        string agent = InstallAgent(pair);
        var node = Node.Beta(pair, peerPort: ReplicatorProcess.FreePort());
        await using var cleanup = new StopOnDispose(agent, node);

        await SucceedsAsync(agent, "start", node);
        await SucceedsAsync(agent, "promote", node);
        await Tool.QemuIo(node.NbdUri, "write -P 0x7c 1M 1M", "flush");
        int pid = int.Parse(await File.ReadAllTextAsync(Path.Combine(node.StateDir, "ocf-replicator.pid")), System.Globalization.CultureInfo.InvariantCulture);
        using (var daemon = Process.GetProcessById(pid))
        {
            daemon.Kill();
            await daemon.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }

        (int code, string output) = await AgentAsync(agent, "monitor", node);
        Assert.Equal(OcfFailedPromoted, code);
        Assert.Contains("the writer's daemon is gone", output, StringComparison.Ordinal);

        // The cluster's recovery of a failed promoted instance: demote, stop, start, promote.
        await SucceedsAsync(agent, "demote", node);
        await SucceedsAsync(agent, "stop", node);
        await SucceedsAsync(agent, "start", node);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", node)).Code);
        await SucceedsAsync(agent, "promote", node);
        Assert.Equal(OcfRunningPromoted, (await AgentAsync(agent, "monitor", node)).Code);
        Assert.Contains("still promoted after a restart", ReadLog(node), StringComparison.Ordinal);
        await Tool.QemuIo(node.NbdUri, "read -P 0x7c 1M 1M", "read -P 0x33 4M 64k");
        await SucceedsAsync(agent, "demote", node);
        await SucceedsAsync(agent, "stop", node);
    }

    [Fact]
    public async Task The_writer_moves_between_two_nodes_and_back_with_nothing_lost_and_the_stale_node_outdated_meanwhile()
    {
        await using DaemonPair pair = await PairStoppedCleanlyAsync();
        string agent = InstallAgent(pair);
        string attributes = Path.Combine(Path.GetDirectoryName(agent)!, "attributes");
        var alpha = Node.Alpha(pair) with { Attributes = attributes };
        var beta = Node.Beta(pair, peerPort: pair.PrimaryPort) with { Attributes = attributes };
        await using var cleanup = new StopOnDispose(agent, alpha, beta);

        // Alpha was the pair's primary (started by `replicator primary`): it rests, data kept, and
        // is the better candidate; beta follows nobody yet.
        await SucceedsAsync(agent, "start", alpha);
        await SucceedsAsync(agent, "start", beta);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", beta)).Code);
        Assert.Equal("75", Score(alpha));
        Assert.Equal("10", Score(beta));

        await SucceedsAsync(agent, "promote", alpha);
        Assert.Equal(OcfRunningPromoted, (await AgentAsync(agent, "monitor", alpha)).Code);
        await WaitUntilProtectedAsync(pair.PrimaryState);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", beta)).Code);
        Assert.Equal("100", Score(beta));
        await Tool.QemuIo(alpha.NbdUri, "write -P 0x5a 0 1M", "flush");

        // Two writers never: while alpha writes and beta follows it, beta is not promoted.
        (int code, string output) = await AgentAsync(agent, "promote", beta with { Meta = new Dictionary<string, string> { ["OCF_RESKEY_CRM_meta_timeout"] = "10000" } });
        Assert.Equal(OcfErrGeneric, code);
        Assert.Contains("a writer is still connected to this node", output, StringComparison.Ordinal);
        Assert.Equal("secondary", (await DaemonPair.StatusAsync(pair.SecondaryState))["role"]!.GetValue<string>());

        // The move: alpha stops writing after a last checkpoint, beta takes over from it, and the
        // notification tells the rested alpha to follow beta.
        await SucceedsAsync(agent, "demote", alpha);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Contains("stopped cleanly after a last checkpoint", ReadLog(alpha), StringComparison.Ordinal);
        await SucceedsAsync(agent, "promote", beta);
        Assert.Equal(OcfRunningPromoted, (await AgentAsync(agent, "monitor", beta)).Code);

        // Beta writes with no follower: alpha no longer holds the writer's data, and may not be promoted.
        Assert.Equal("by beta", Outdated(alpha));
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Null(Score(alpha));

        await SucceedsAsync(agent, "notify", PostPromote(alpha, "beta"));
        Assert.Equal("secondary", (await DaemonPair.StatusAsync(pair.PrimaryState))["role"]!.GetValue<string>());
        await WaitUntilProtectedAsync(pair.SecondaryState);
        Assert.Equal(OcfRunningPromoted, (await AgentAsync(agent, "monitor", beta)).Code);
        Assert.Null(Outdated(alpha));
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Equal("100", Score(alpha));
        await Tool.QemuIo(beta.NbdUri, "read -P 0x5a 0 1M");
        await Tool.QemuIo(beta.NbdUri, "write -P 0x6b 2M 1M", "flush");

        // And back: beta was made the writer by a promotion, so its rested record must be demoted
        // before it can follow (`replicator demote`, run by the agent's notify).
        await SucceedsAsync(agent, "demote", beta);
        await SucceedsAsync(agent, "promote", alpha);
        await SucceedsAsync(agent, "notify", PostPromote(beta, "alpha"));
        Assert.Equal("secondary", (await DaemonPair.StatusAsync(pair.SecondaryState))["role"]!.GetValue<string>());
        await WaitUntilProtectedAsync(pair.PrimaryState);
        Assert.Equal(OcfRunningPromoted, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Equal(OcfSuccess, (await AgentAsync(agent, "monitor", beta)).Code);
        await Tool.QemuIo(alpha.NbdUri, "read -P 0x5a 0 1M", "read -P 0x6b 2M 1M");

        await SucceedsAsync(agent, "demote", alpha);
        await SucceedsAsync(agent, "stop", alpha);
        await SucceedsAsync(agent, "stop", beta);
        Assert.Equal(OcfNotRunning, (await AgentAsync(agent, "monitor", alpha)).Code);
        Assert.Equal(OcfNotRunning, (await AgentAsync(agent, "monitor", beta)).Code);
    }

    /// <summary>
    /// The agent's daemons run detached, as under a cluster: whatever a test leaves running (it
    /// failed half-way) is stopped through the agent, before the pair's directory goes.
    /// </summary>
    private sealed class StopOnDispose(string agent, params Node[] nodes) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            foreach (Node node in nodes)
            {
                await AgentAsync(agent, "stop", node);
            }
        }
    }

    /// <summary>One node's parameters and cluster context, as the cluster would pass them to the agent.</summary>
    private sealed record Node(string Name, string StateDir, string NbdUri, IReadOnlyDictionary<string, string> Parameters)
    {
        /// <summary>The fake attribute store's directory; null outside a cluster.</summary>
        public string? Attributes { get; init; }

        /// <summary>More of the cluster's variables (a notification's).</summary>
        public IReadOnlyDictionary<string, string> Meta { get; init; } = new Dictionary<string, string>();

        /// <summary>The pair's primary side: its image and state, listening on <see cref="DaemonPair.PrimaryPort"/> while it follows.</summary>
        public static Node Alpha(DaemonPair pair) => Make("alpha", pair, pair.PrimaryImage, pair.PrimaryState, pair.PrimaryNbd, pair.PrimaryPort, pair.SecondaryPort, true);

        /// <summary>The pair's secondary side; alone (ocf-tester) its peer is a port nothing listens on.</summary>
        public static Node Beta(DaemonPair pair, int peerPort) => Make("beta", pair, pair.SecondaryImage, pair.SecondaryState, pair.SecondaryNbd, pair.SecondaryPort, peerPort, peerPort == pair.PrimaryPort);

        private static Node Make(string name, DaemonPair pair, string image, string state, int nbd, int listen, int peer, bool twoNodes)
        {
            var parameters = new Dictionary<string, string>
            {
                ["binary"] = Path.Combine(AppContext.BaseDirectory, "replicator"),
                ["image"] = image,
                ["state_dir"] = state,
                ["link_key"] = pair.LinkKey,
                ["nbd"] = $"127.0.0.1:{nbd}",
                ["options"] = "--reconnect-ms 100",
            };
            if (twoNodes)
            {
                // One configuration for both nodes, as a clone has.
                (string self, string other) = name == "alpha" ? ("alpha", "beta") : ("beta", "alpha");
                parameters["node_addresses"] = name == "alpha"
                    ? $"{self}=127.0.0.1:{listen} {other}=127.0.0.1:{peer}"
                    : $"{other}=127.0.0.1:{peer} {self}=127.0.0.1:{listen}";
            }
            else
            {
                parameters["listen"] = $"127.0.0.1:{listen}";
                parameters["peer"] = $"127.0.0.1:{peer}";
            }

            return new Node(name, state, $"nbd://127.0.0.1:{nbd}/", parameters);
        }
    }

    private static Node PostPromote(Node node, string promoted) => node with
    {
        Meta = new Dictionary<string, string>
        {
            ["OCF_RESKEY_CRM_meta_notify_type"] = "post",
            ["OCF_RESKEY_CRM_meta_notify_operation"] = "promote",
            ["OCF_RESKEY_CRM_meta_notify_promote_uname"] = promoted,
        },
    };

    private static Dictionary<string, string> Rename(IReadOnlyDictionary<string, string> parameters, string from, string to) =>
        parameters.ToDictionary(p => p.Key == from ? to : p.Key, p => p.Value);

    /// <summary>A pair that replicated a checkpoint and stopped cleanly, the primary first: both nodes hold the pair's data.</summary>
    private static async Task<DaemonPair> PairStoppedCleanlyAsync()
    {
        DaemonPair pair = await DaemonPair.StartAsync();
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x33 4M 64k", "flush");
        await pair.CheckpointAsync();
        await pair.Primary!.TerminateAsync();
        Assert.Equal(0, await pair.Primary.WaitForExitAsync());
        await pair.Secondary!.TerminateAsync();
        Assert.Equal(0, await pair.Secondary.WaitForExitAsync());
        return pair;
    }

    /// <summary>
    /// The agent from the repository, copied where user nobody can read it (ocf-tester runs its
    /// meta-data as nobody), with a crm_attribute beside it that keeps attributes as files.
    /// </summary>
    private static string InstallAgent(DaemonPair pair)
    {
        string directory = pair.FileInDirectory("ocf");
        Directory.CreateDirectory(directory);
        string agent = Path.Combine(directory, "replicator");
        File.Copy(Path.Combine(RepositoryRoot(), "scripts", "ocf", "replicator"), agent);
        const UnixFileMode Everyone = (UnixFileMode)0b111_101_101;
        File.SetUnixFileMode(agent, Everyone);
        for (string? d = directory; d is not null && d != Path.GetTempPath().TrimEnd('/'); d = Path.GetDirectoryName(d))
        {
            File.SetUnixFileMode(d, Everyone);
        }

        string tools = Path.Combine(directory, "sbin");
        Directory.CreateDirectory(tools);
        string crmAttribute = Path.Combine(tools, "crm_attribute");
        File.WriteAllText(crmAttribute, FakeCrmAttribute);
        File.SetUnixFileMode(crmAttribute, Everyone);
        return agent;
    }

    /// <summary>
    /// The calls the agent makes of crm_attribute, answered from files ATTRIBUTES/NODE/NAME: the
    /// promotion score (-p, named master-RESOURCE as the cluster names it) and node attributes.
    /// </summary>
    private const string FakeCrmAttribute = """
        #!/bin/sh
        node=$OCF_RESKEY_CRM_meta_on_node name= action= value=
        while [ $# -gt 0 ]; do
            case "$1" in
            -p|--promotion) name="master-${OCF_RESOURCE_INSTANCE%%:*}" ;;
            -N|--node) node=$2; shift ;;
            -n|--name) name=$2; shift ;;
            -l|--lifetime) shift ;;
            -v|--update) action=update value=$2; shift ;;
            -D|--delete) action=delete ;;
            -G|--query) action=query ;;
            esac
            shift
        done
        file="$FAKE_ATTRIBUTES/$node/$name"
        case "$action" in
        update) mkdir -p "${file%/*}" && printf '%s' "$value" > "$file" ;;
        delete) rm -f "$file" ;;
        query) [ -f "$file" ] && cat "$file" ;;
        esac
        """;

    private static string? Attribute(Node node, string name)
    {
        string file = Path.Combine(node.Attributes!, node.Name, name);
        return File.Exists(file) ? File.ReadAllText(file) : null;
    }

    private static string? Score(Node node) => Attribute(node, "master-rep");

    private static string? Outdated(Node node) => Attribute(node, "replicator-outdated-rep");

    private static string ReadLog(Node node)
    {
        string log = Path.Combine(node.StateDir, "replicator.log");
        return File.Exists(log) ? File.ReadAllText(log) : "(no log)";
    }

    private static async Task SucceedsAsync(string agent, string action, Node node)
    {
        (int code, string output) = await AgentAsync(agent, action, node);
        Assert.True(code == OcfSuccess, $"{node.Name} {action} returned {code}:\n{output}\n--- its daemon's log:\n{ReadLog(node)}");
    }

    /// <summary>Runs one action of the agent as the cluster would: parameters as OCF_RESKEY_*, a promotable clone's meta attributes when in a cluster.</summary>
    private static Task<(int Code, string Output)> AgentAsync(string agent, string action, Node node)
    {
        var environment = new Dictionary<string, string>
        {
            ["OCF_ROOT"] = "/usr/lib/ocf",
            ["OCF_RESOURCE_INSTANCE"] = "rep",
            ["OCF_RESKEY_CRM_meta_timeout"] = "60000",
        };
        foreach ((string name, string value) in node.Parameters)
        {
            environment[$"OCF_RESKEY_{name}"] = value;
        }

        if (node.Attributes is not null)
        {
            environment["OCF_RESOURCE_INSTANCE"] = "rep:0";
            environment["OCF_RESKEY_CRM_meta_on_node"] = node.Name;
            environment["OCF_RESKEY_CRM_meta_clone_max"] = "2";
            environment["OCF_RESKEY_CRM_meta_promotable"] = "true";
            environment["OCF_RESKEY_CRM_meta_promoted_max"] = "1";
            environment["OCF_RESKEY_CRM_meta_notify"] = "true";
            environment["OCF_RESKEY_crm_feature_set"] = "3.16.2";
            environment["HA_SBIN_DIR"] = Path.Combine(Path.GetDirectoryName(agent)!, "sbin");
            environment["FAKE_ATTRIBUTES"] = node.Attributes;
        }

        foreach ((string name, string value) in node.Meta)
        {
            environment[name] = value;
        }

        return RunAsync(agent, [action], environment);
    }

    /// <summary>Asks the writer's status until the pair is protected (bounded: each ask is a process start).</summary>
    private static async Task WaitUntilProtectedAsync(string stateDir)
    {
        JsonNode? status = null;
        for (int attempt = 0; attempt < 300; attempt++)
        {
            status = (await DaemonPair.StatusAsync(stateDir))["status"];
            if (status?["Protection"]?.GetValue<string>() == "Protected")
            {
                return;
            }
        }

        Assert.Fail($"the pair never became protected: {status?.ToJsonString()}");
    }

    private static string OcfTester()
    {
        const string Path = "/usr/sbin/ocf-tester";
        Assert.True(File.Exists(Path), "ocf-tester is not installed: run scripts/install-test-deps.sh (it installs resource-agents and libxml2-utils)");
        return Path;
    }

    private static string RepositoryRoot()
    {
        for (string? d = AppContext.BaseDirectory; d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "scripts", "ocf", "replicator")))
            {
                return d;
            }
        }

        throw new InvalidOperationException($"no scripts/ocf/replicator above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs a program to its end with a clean OCF environment, bounded so a hang fails the test.</summary>
    private static async Task<(int Code, string Output)> RunAsync(string file, IEnumerable<string> arguments, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string name in start.Environment.Keys.Where(k => k.StartsWith("OCF_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin:" + Environment.GetEnvironmentVariable("PATH");
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', arguments)} did not finish in 5 minutes: {await stdout}{await stderr}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }
}
