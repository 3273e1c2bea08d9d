using System.CommandLine;
using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Replicator.Cli.CommandLine;
using Replicator.Cli.Hosting;
using Replicator.Cli.Hosting.Vm;
using Replicator.Nbd;
using Replicator.Qemu.Config;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Secondary;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator primary|secondary ...</c>: a daemon under the generic host (configuration, logging, SIGTERM).</summary>
internal static class DaemonCommand
{
    public static async Task<int> RunAsync(DaemonOptions role, ParseResult parsed)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = Environments.Production,
        });
        builder.Configuration.AddEnvironmentVariables("REPLICATOR__");
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));

        // Readiness is the daemon's to say (after the handshake), not the host's at start: the
        // notifier alone, without the systemd lifetime that would say READY before the node runs.
        builder.Services.AddSingleton<ISystemdNotifier, SystemdNotifier>();

        var problems = new List<string>();
        NodeSettings settings = role.Apply(parsed, ConfiguredSettings(builder.Configuration, problems));
        IPEndPoint? metrics = MetricsEndpoint.Parse(settings.Metrics, problems);
        if (!Report(role.RoleName, problems))
        {
            return 2;
        }

        if (metrics is not null)
        {
            MetricsEndpoint.Add(builder.Services, metrics);
        }

        string? metricsUrl = metrics is null ? null : MetricsEndpoint.ScrapeUrl(metrics);

        if (role.Role == NodeRoles.Secondary)
        {
            SecondaryNodeOptions? options = SecondaryOptions(settings, problems);
            PrimaryNodeOptions? promoted = PromotedOptions(settings, problems);
            EndPoint? nbdEndPoint = settings.Nbd is null ? null : NodeSettings.ParseNbdEndPoint(settings.Nbd, problems);
            NbdServerOptions? nbd = nbdEndPoint is null ? null : settings.NbdOptions(nbdEndPoint, problems);
            if (!Report(role.RoleName, problems))
            {
                return 2;
            }

            if (!VmProblems(role.RoleName, settings, nbdEndPoint, out VmConfig? vm))
            {
                return 1;
            }

            var daemon = new NodeDaemonOptions { StartsAs = NodeRoles.Secondary, StateDirectory = settings.StateDir!, Secondary = options! with { KeepsVmStateBuffer = vm is not null }, Promoted = promoted!, Nbd = nbd, LinkKey = options!.LinkKey, MetricsUrl = metricsUrl, Vm = vm };
            builder.Services.AddHostedService(s => new NodeDaemon(daemon, s.GetRequiredService<ILoggerFactory>(), s.GetRequiredService<IHostApplicationLifetime>(), s.GetRequiredService<ISystemdNotifier>()));
        }
        else
        {
            PrimaryNodeOptions? options = PrimaryOptions(settings, problems);
            EndPoint? nbdEndPoint = NodeSettings.ParseNbdEndPoint(settings.Nbd, problems);
            NbdServerOptions? nbd = nbdEndPoint is null ? null : settings.NbdOptions(nbdEndPoint, problems);

            // With --listen the primary can hand over in a switchover and follow as a secondary.
            SecondaryNodeOptions? follower = string.IsNullOrWhiteSpace(settings.Listen) || settings.NoReplication ? null : SecondaryOptions(settings, problems);
            PrimaryNodeOptions? promoted = PromotedOptions(settings, problems);
            if (settings.NoReplication && !string.IsNullOrWhiteSpace(settings.Listen))
            {
                problems.Add("--no-replication runs without a secondary: drop --listen, or drop --no-replication");
            }

            if (!Report(role.RoleName, problems))
            {
                return 2;
            }

            if (!VmProblems(role.RoleName, settings, nbdEndPoint, out VmConfig? vm))
            {
                return 1;
            }

            var daemon = new NodeDaemonOptions { StartsAs = NodeRoles.Primary, StateDirectory = settings.StateDir!, Primary = options, Secondary = follower is null ? null : follower with { KeepsVmStateBuffer = vm is not null }, Promoted = promoted!, Nbd = nbd, LinkKey = options!.LinkKey, MetricsUrl = metricsUrl, Vm = vm };
            builder.Services.AddHostedService(s => new NodeDaemon(daemon, s.GetRequiredService<ILoggerFactory>(), s.GetRequiredService<IHostApplicationLifetime>(), s.GetRequiredService<ISystemdNotifier>()));
        }

        using IHost host = builder.Build();
        if (MetricsEndpoint.Open(host.Services, metrics) is { } unserved)
        {
            Console.Error.WriteLine($"replicator {role.RoleName}: {unserved}");
            return 1;
        }

        await host.RunAsync().ConfigureAwait(false);
        return Environment.ExitCode;
    }

    private static SecondaryNodeOptions? SecondaryOptions(NodeSettings s, List<string> problems)
    {
        IPEndPoint? listen = NodeSettings.ParseEndPoint(s.Listen, "listen", problems);
        LinkKey? linkKey = s.LoadLinkKey(problems);
        Require(s.Image, "image PATH", problems);
        Require(s.StateDir, "state-dir DIR", problems);
        (long bufferBytes, long writebackBytes) = s.SecondaryRamBounds(problems);
        if (listen is null || problems.Count > 0)
        {
            return null;
        }

        var options = new SecondaryNodeOptions
        {
            ImagePath = s.Image!,
            StateDirectory = s.StateDir!,
            Listen = listen,
            PairId = s.PairId,
            LinkKey = linkKey,
            InsecureLink = s.InsecureLink,
            MaxPendingLinks = s.MaxPendingLinks,
            LinkHandshakeTimeout = TimeSpan.FromMilliseconds(s.LinkHandshakeTimeoutMs),
            MaxRequestBytes = s.MaxRequestKb * 1024,
            BufferCapacityBytes = bufferBytes,
            WritebackCapacityBytes = writebackBytes,
            RamBytes = s.RamKb << 10,
            PageTerms = s.PageTerms(problems),
            HeartbeatInterval = TimeSpan.FromMilliseconds(s.HeartbeatMs),
            HeartbeatTimeout = TimeSpan.FromMilliseconds(s.HeartbeatTimeoutMs),
            AutoFailover = s.AutoFailover,
            FailoverDiscardingUnverifiable = s.FailoverDiscardingUnverifiableEpochs,
            Witness = s.WitnessEndPoint(problems),
            FenceCommand = s.FenceCommand,
            FenceTimeout = TimeSpan.FromMilliseconds(s.FenceTimeoutMs),
        };
        problems.AddRange(options.Validate());
        return options;
    }

    /// <summary>
    /// The primary a secondary becomes once promoted: replicating to --peer (attempts in the
    /// background, from the moment it takes over), or to nothing without one.
    /// </summary>
    private static PrimaryNodeOptions? PromotedOptions(NodeSettings s, List<string> problems)
    {
        bool peered = !string.IsNullOrWhiteSpace(s.Peer);
        IPEndPoint? peer = peered ? NodeSettings.ParseEndPoint(s.Peer, "peer", problems) : new IPEndPoint(IPAddress.Loopback, 0);
        if (peer is null || string.IsNullOrWhiteSpace(s.Image) || string.IsNullOrWhiteSpace(s.StateDir))
        {
            return null;
        }

        PrimaryNodeOptions options = CommonPrimaryOptions(s, peer, s.InsecureLink ? null : s.LoadLinkKey([]), []) with
        {
            Unreplicated = !peered,
            RunsPromotedNode = true,
        };
        if (problems.Count == 0)
        {
            // Checked only once the secondary's own options pass: the two share most settings.
            problems.AddRange(options.Validate().Select(problem => $"once promoted: {problem}"));
        }

        return options;
    }

    private static PrimaryNodeOptions? PrimaryOptions(NodeSettings s, List<string> problems)
    {
        // Without replication there is no peer to name: a placeholder that is never contacted.
        IPEndPoint? peer = s.NoReplication ? new IPEndPoint(IPAddress.Loopback, 0) : NodeSettings.ParseEndPoint(s.Peer, "peer", problems);
        if (s.FailoverDiscardingUnverifiableEpochs)
        {
            problems.Add("--failover-discarding-unverifiable-epochs is a secondary's option: a primary has no journal to discard");
        }

        if (s.NoReplication && !string.IsNullOrWhiteSpace(s.Peer))
        {
            problems.Add("--no-replication runs without a secondary: drop --peer, or drop --no-replication");
        }

        if (s.NoReplication && (s.StartWithoutSecondary || s.AllowFullSync || s.SkipInitialSync))
        {
            problems.Add("--start-without-secondary, --allow-full-sync and --skip-initial-sync say how to treat a secondary: drop them, or drop --no-replication");
        }

        LinkKey? linkKey = s.NoReplication ? null : s.LoadLinkKey(problems);
        Require(s.Image, "image PATH", problems);
        Require(s.StateDir, "state-dir DIR", problems);
        if (peer is null || problems.Count > 0)
        {
            return null;
        }

        PrimaryNodeOptions options = CommonPrimaryOptions(s, peer, linkKey, problems) with
        {
            Unreplicated = s.NoReplication,
            StartWithoutSecondary = s.StartWithoutSecondary,
            SkipInitialSync = s.SkipInitialSync,
        };
        problems.AddRange(options.Validate());
        return options;
    }

    /// <summary>The primary's options both daemons take alike; problems with their values go to <paramref name="problems"/>.</summary>
    private static PrimaryNodeOptions CommonPrimaryOptions(NodeSettings s, IPEndPoint peer, LinkKey? linkKey, List<string> problems) =>
        new()
        {
            Witness = s.WitnessEndPoint(problems),
            QuorumLease = TimeSpan.FromMilliseconds(s.LeaseMs),
            NoQuorum = s.NoQuorumPolicy(problems),
            ImagePath = s.Image!,
            StateDirectory = s.StateDir!,
            Peer = peer,
            AllowFullSync = s.AllowFullSync,
            SyncReadsInFlight = s.SyncReadsInFlight,
            MirrorBatchBytes = (int)Math.Clamp(s.MirrorBatchKb * 1024L, int.MinValue, int.MaxValue),
            SyncGranularityBytes = s.SyncGranularityKb * 1024,
            ActivityLogExtents = s.ActivityLogExtents,
            SyncRateMBps = s.SyncRateMbps,
            SyncChecksums = s.SyncChecksums,
            PairId = s.PairId,
            LinkKey = linkKey,
            InsecureLink = s.InsecureLink,
            LinkHandshakeTimeout = TimeSpan.FromMilliseconds(s.LinkHandshakeTimeoutMs),
            MaxRequestBytes = s.MaxRequestKb * 1024,
            EpochInterval = TimeSpan.FromMilliseconds(s.EpochMs),
            RamBytes = s.RamKb << 10,
            PageTerms = s.PageTerms(problems),
            HeartbeatInterval = TimeSpan.FromMilliseconds(s.HeartbeatMs),
            HeartbeatTimeout = TimeSpan.FromMilliseconds(s.HeartbeatTimeoutMs),
            ReconnectDelay = TimeSpan.FromMilliseconds(s.ReconnectMs),
            AckTimeout = TimeSpan.FromMilliseconds(s.AckTimeoutMs),
        };

    private static void Require(string? value, string what, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            problems.Add($"--{what} is required");
        }
    }

    /// <summary>
    /// <c>--vm</c> and <c>--vm-config</c>, checked once the other options pass (the guest's RAM
    /// is compared with <c>--ram-kb</c>, its disk is the export): a problem is one line, exit code 1.
    /// </summary>
    private static bool VmProblems(string role, NodeSettings settings, EndPoint? export, out VmConfig? vm)
    {
        var problems = new List<string>();
        vm = DaemonVmSettings.Parse(settings, export, problems);
        return Report(role, problems);
    }

    private static bool Report(string role, List<string> problems)
    {
        // The roles' options share settings: a problem found by both is said once.
        foreach (string problem in problems.Distinct(StringComparer.Ordinal))
        {
            Console.Error.WriteLine($"replicator {role}: {problem}");
        }

        return problems.Count == 0;
    }

    /// <summary>
    /// The settings from appsettings.json and REPLICATOR__Replicator__* variables, checked as strictly
    /// as the command line: an unknown name or a value of the wrong type is a problem naming the key.
    /// (A configuration file is shared by both daemons, so a setting of the other role is not one.)
    /// </summary>
    private static NodeSettings ConfiguredSettings(ConfigurationManager configuration, List<string> problems)
    {
        IConfigurationSection section = configuration.GetSection("Replicator");
        var known = DaemonOptions.Settings.Select(p => p.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);
        foreach (IConfigurationSection child in section.GetChildren())
        {
            // The host's own unprefixed environment source also sees REPLICATOR__Replicator__X, as
            // Replicator:Replicator:X: the same variable, already read through the prefixed source.
            if (!known.Contains(child.Key) && !string.Equals(child.Key, "Replicator", StringComparison.OrdinalIgnoreCase))
            {
                problems.Add($"unknown setting Replicator:{child.Key} (in appsettings.json or REPLICATOR__Replicator__{child.Key}); the settings are: {string.Join(", ", known)}");
            }
        }

        try
        {
            return section.Get<NodeSettings>() ?? new NodeSettings();
        }
        catch (InvalidOperationException e)
        {
            problems.Add($"{e.Message} (in appsettings.json or a REPLICATOR__Replicator__ variable)");
            return new NodeSettings();
        }
    }
}
