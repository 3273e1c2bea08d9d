using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Replicator.Hosts.Diagnostics;

namespace Replicator.Cli.Hosting;

/// <summary>
/// <c>--metrics HOST:PORT</c>: the hosts' instruments (every <c>Replicator.*</c> meter) served for
/// Prometheus at <c>http://HOST:PORT/metrics</c> by OpenTelemetry's exporter. Loopback only: the
/// endpoint has no authentication, and what it tells (epochs, lag, refusals) is the operator's; a
/// scraper on another host reaches it through the operator's own proxy or tunnel.
/// </summary>
internal static class MetricsEndpoint
{
    /// <summary>The endpoint, or null without one; adds a problem naming the option when it is not a loopback HOST:PORT.</summary>
    public static IPEndPoint? Parse(string? value, List<string> problems)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        IPEndPoint? endPoint = NodeSettings.ParseEndPoint(value, "metrics", problems);
        if (endPoint is null)
        {
            return null;
        }

        if (!IPAddress.IsLoopback(endPoint.Address))
        {
            problems.Add($"--metrics {value}: the metrics endpoint has no authentication, so it listens on the loopback only (127.0.0.1:PORT or [::1]:PORT); scrape it from elsewhere through a proxy or tunnel");
            return null;
        }

        return endPoint;
    }

    /// <summary>Where Prometheus scrapes it.</summary>
    public static string ScrapeUrl(IPEndPoint endPoint) => string.Create(CultureInfo.InvariantCulture, $"http://{endPoint}/metrics");

    /// <summary>
    /// Opens the endpoint before the daemon starts (the exporter opens it when first resolved), so a
    /// port in use stops the start with one clear line instead of a host failure; null when served.
    /// </summary>
    public static string? Open(IServiceProvider services, IPEndPoint? endPoint)
    {
        if (endPoint is null)
        {
            return null;
        }

        try
        {
            services.GetService<MeterProvider>();
            return null;
        }
        catch (InvalidOperationException e) when (e.InnerException is HttpListenerException listener)
        {
            return $"--metrics {endPoint}: metrics cannot be served there ({listener.Message})";
        }
    }

    /// <summary>Serves every Replicator meter at <paramref name="endPoint"/> while the generic host runs.</summary>
    public static void Add(IServiceCollection services, IPEndPoint endPoint) =>
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("replicator"))
            .WithMetrics(metrics => Configure(metrics, endPoint));

    /// <summary>The same, for a process without the generic host (the demo's primary): served until disposed.</summary>
    public static MeterProvider Serve(IPEndPoint endPoint) =>
        Configure(OpenTelemetry.Sdk.CreateMeterProviderBuilder().ConfigureResource(resource => resource.AddService("replicator")), endPoint).Build();

    private static MeterProviderBuilder Configure(MeterProviderBuilder metrics, IPEndPoint endPoint) =>
        metrics
            .AddMeter(MeterNames.Pattern)
            .AddPrometheusHttpListener(o =>
            {
                // The exporter writes the host into an HttpListener prefix, where IPv6 takes brackets.
                o.Host = endPoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]" : endPoint.Address.ToString();
                o.Port = endPoint.Port;

                // Every scrape measures afresh: a cached answer would show a checkpoint or a promotion late.
                o.ScrapeResponseCacheDurationMilliseconds = 0;
            });
}
