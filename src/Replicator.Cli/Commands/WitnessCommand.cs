using System.CommandLine;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Replicator.Cli.Hosting;
using Replicator.Runtime.Control;
using Replicator.Runtime.Links;
using Replicator.Runtime.Witness;

namespace Replicator.Cli.Commands;

/// <summary><c>replicator witness --listen HOST:PORT --state-dir DIR --link-key FILE</c>: the pair's third vote, under the generic host.</summary>
internal static class WitnessCommand
{
    public static Command Build(Func<System.CommandLine.Parsing.OptionResult, Option<int>, bool> positive)
    {
        var listen = new Option<string>("--listen") { Description = "HOST:PORT where both nodes connect", Required = true };
        var stateDir = new Option<string>("--state-dir") { Description = "where the witness records each pair's generation and votes (keep it: a witness that forgot a vote could grant a second one)", Required = true };
        var linkKey = new Option<string?>("--link-key") { Description = "the pair key file both nodes hold (replicator keygen)" };
        var insecure = new Option<bool>("--insecure-link") { Description = "accept connections unauthenticated and unencrypted (instead of --link-key)" };
        var maxLease = new Option<int>("--max-lease-ms") { Description = "the longest lease granted; a (re)started witness votes only after this has passed (default 10000)", DefaultValueFactory = _ => 10_000 };
        var maxPairs = new Option<int>("--max-pairs") { Description = "pairs the witness keeps records for (default 64)", DefaultValueFactory = _ => 64 };
        var maxConnections = new Option<int>("--max-connections") { Description = "connections open at once, at most (default 64); one more is closed at accept", DefaultValueFactory = _ => 64 };
        var metrics = new Option<string?>("--metrics") { Description = "HOST:PORT on the loopback where Prometheus scrapes the witness's metrics at /metrics (off without it)" };
        var idle = new Option<int>("--idle-timeout-ms") { Description = "a connection that asks nothing this long is closed (default 10000)", DefaultValueFactory = _ => 10_000 };
        foreach (Option<int> option in new[] { maxLease, maxPairs, maxConnections, idle })
        {
            option.Validators.Add(r => positive(r, option));
        }

        var command = new Command("witness", "run a pair's witness: the third vote that lets --auto-failover promote without ever making two writers") { listen, stateDir, linkKey, insecure, maxLease, maxPairs, maxConnections, idle, metrics };
        command.SetAction(async (parsed, _) =>
        {
            var problems = new List<string>();
            IPEndPoint? endPoint = NodeSettings.ParseEndPoint(parsed.GetValue(listen), "listen", problems);
            var settings = new NodeSettings { LinkKey = parsed.GetValue(linkKey) };
            LinkKey? key = settings.LoadLinkKey(problems);
            IPEndPoint? metricsEndPoint = MetricsEndpoint.Parse(parsed.GetValue(metrics), problems);
            if (endPoint is null || problems.Count > 0)
            {
                problems.ForEach(p => Console.Error.WriteLine($"replicator witness: {p}"));
                return 2;
            }

            var options = new WitnessNodeOptions
            {
                Listen = endPoint,
                StateDirectory = parsed.GetValue(stateDir)!,
                LinkKey = key,
                InsecureLink = parsed.GetValue(insecure),
                MaxLease = TimeSpan.FromMilliseconds(parsed.GetValue(maxLease)),
                MaxPairs = parsed.GetValue(maxPairs),
                MaxConnections = parsed.GetValue(maxConnections),
                IdleTimeout = TimeSpan.FromMilliseconds(parsed.GetValue(idle)),
            };
            IReadOnlyList<string> invalid = options.Validate();
            if (invalid.Count > 0)
            {
                foreach (string problem in invalid)
                {
                    Console.Error.WriteLine($"replicator witness: {problem}");
                }

                return 2;
            }

            return await RunAsync(options, metricsEndPoint).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(WitnessNodeOptions options, IPEndPoint? metrics)
    {
        HostApplicationBuilder builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { ContentRootPath = AppContext.BaseDirectory, EnvironmentName = Environments.Production });
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        if (metrics is not null)
        {
            MetricsEndpoint.Add(builder.Services, metrics);
        }

        builder.Services.AddHostedService(s => new WitnessDaemon(options, s.GetRequiredService<ILoggerFactory>().CreateLogger("Replicator.Witness"), s.GetRequiredService<ISystemdNotifier>()));
        using IHost host = builder.Build();
        if (MetricsEndpoint.Open(host.Services, metrics) is { } unserved)
        {
            Console.Error.WriteLine($"replicator witness: {unserved}");
            return 1;
        }

        await host.RunAsync().ConfigureAwait(false);
        return Environment.ExitCode;
    }

    /// <summary>The witness node and its control socket (status), started and stopped with the generic host.</summary>
    private sealed class WitnessDaemon(WitnessNodeOptions options, ILogger log, ISystemdNotifier systemd) : IHostedService, IAsyncDisposable
    {
        private WitnessNode? _node;
        private ControlServer? _control;

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            _node = new WitnessNode(options, log, TimeProvider.System);
            await _node.StartAsync().ConfigureAwait(false);
            WitnessNode node = _node;
            var events = new StatusEvents(node.State, TimeProvider.System, StatusEvents.DefaultInterval);
            _control = ControlServer.Start(
                options.StateDirectory,
                (command, _) => command == "status"
                    ? Task.FromResult<JsonNode?>(node.Status())
                    : throw new InvalidOperationException($"a witness answers status and events only, not {command}"),
                (command, cancel) => command == "events" ? events.StreamAsync(cancel) : null);

            // Under systemd (Type=notify): ready once it listens.
            systemd.Notify(ServiceState.Ready);
        }

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            systemd.Notify(ServiceState.Stopping);
            await DisposeAsync().ConfigureAwait(false);
        }

        public async ValueTask DisposeAsync()
        {
            if (_control is not null)
            {
                await _control.DisposeAsync().ConfigureAwait(false);
                _control = null;
            }

            if (_node is not null)
            {
                await _node.DisposeAsync().ConfigureAwait(false);
                _node = null;
            }
        }
    }
}
